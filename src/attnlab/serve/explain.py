"""`explain(run, text, **opts)`: one input through a loaded run -> the task's result and every attention map,
as a JSON-ready dict. The web explorer (serve/app.py) and the offline HTML / bertviz exports (viz/html.py)
draw only from this dict.

The contract (what a task's own `explain(model, text, **opts)` must return as well):

    {
      "task": "translation" | "classification" | "lm" | "chat" | ...,
      "input": "<the text as given>",
      "result": {...task-specific, see below...},
      "attention": [                      # zero or more maps, drawn in this order
        {
          "name": "cross" | "encoder" | "decoder" | "pooling" | "rnn",
          "title": "optional human label",
          "layers": [[[[w, ...], ...], ...], ...],   # layers × heads × T_q × T_k, floats in [0, 1]
          "q_tokens": [...],              # T_q labels: the rows (who attends)
          "k_tokens": [...]               # T_k labels: the columns (what is attended to)
        }
      ]
    }

  * Every map is 4-deep even when it has one layer and one head (RNN attention: [[matrix]]); all layers of
    one map have the same number of heads; len(q_tokens) == T_q and len(k_tokens) == T_k.
  * Decoder-side rows are labelled by the token produced at that step (so rows of "cross" / "rnn" read like
    the output); the keys of decoder self-attention ("decoder") are the decoder's input tokens (<bos> first).
  * A decoder-only language model names its causal self-attention "decoder" (q_tokens == k_tokens).
  * "pooling" is a classifier's attention pooling: one layer, one head, T_q = 1 (q_tokens = ["<pooled>"]).
  * result, by task (the page draws whichever fields are present):
      translation / chat: {"text": best, "n_best": [{"text", "score", "tokens"}], "src_tokens", "tgt_tokens",
                           "hypothesis": index whose attention is shown}
      classification:     {"label", "probability", "tokens", "weights": one per token or null}
      lm:                 {"text": generated text, "prompt"}
  * Floats are plain Python floats (rounded to 4 decimals); nothing else but str / int / float / bool /
    None / list / dict. User mistakes raise attnlab.errors.UserError (the server answers 422 with its text).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from attnlab.data.vocab import Vocab
from attnlab.errors import UserError

MAP_NAMES = ("cross", "encoder", "decoder", "pooling", "rnn")
_TRANSLATION_OPTS = {"beam", "n_best", "alpha", "hypothesis"}
MAX_BEAM = 16


def _floats(a) -> list:
    """An array (any depth) -> nested lists of floats rounded to 4 decimals (≈ 3x smaller JSON)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().float().cpu().numpy()
    return np.round(np.asarray(a, dtype=np.float64), 4).tolist()


def attention_map(
    name: str, weights, q_tokens: list[str], k_tokens: list[str], *, title: str | None = None
) -> dict[str, Any]:
    """One contract map from weights shaped (layers, heads, T_q, T_k) (a tensor, array or nested lists)."""
    w = np.asarray(
        weights.detach().float().cpu().numpy() if isinstance(weights, torch.Tensor) else weights,
        dtype=np.float64,
    )
    if w.ndim != 4:
        raise ValueError(f"attention map {name!r} must be (layers, heads, T_q, T_k), got shape {w.shape}")
    if w.shape[2] != len(q_tokens) or w.shape[3] != len(k_tokens):
        raise ValueError(
            f"attention map {name!r} is {w.shape} but has {len(q_tokens)} query and "
            f"{len(k_tokens)} key tokens"
        )
    out = {"name": name, "layers": _floats(w), "q_tokens": list(q_tokens), "k_tokens": list(k_tokens)}
    if title:
        out["title"] = title
    return out


def check_explained(data: dict) -> dict:
    """Validate a dict against the contract (used on what tasks return); returns it unchanged."""
    for key in ("task", "input", "result", "attention"):
        if key not in data:
            raise ValueError(f"explain() result lacks {key!r}")
    for m in data["attention"]:
        layers = m["layers"]
        heads = {len(layer) for layer in layers}
        if len(heads) > 1:
            raise ValueError(f"attention map {m['name']!r}: layers have different numbers of heads")
        for layer in layers:
            for head in layer:
                if len(head) != len(m["q_tokens"]) or any(len(row) != len(m["k_tokens"]) for row in head):
                    raise ValueError(f"attention map {m['name']!r}: shape does not match its tokens")
    return data


# --------------------------------------------------------------------------------------------- translation


def check_options(opts: dict, valid: set[str], task_name: str) -> None:
    unknown = set(opts) - valid
    if unknown:
        raise UserError(
            f"unknown option(s) for {task_name}: {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(valid)) or 'none'}"
        )


def int_option(opts: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = opts.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UserError(f"option {name} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def float_option(opts: dict, name: str, default: float | None, lo: float, hi: float) -> float | None:
    value = opts.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise UserError(f"option {name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def explain_seq2seq(task, model, text: str, *, task_name: str = "translation", **opts) -> dict:
    """Translation (and any TranslationTask subclass, e.g. chat): n-best list + attention of one hypothesis.

    opts: beam (1..16), n_best (1..beam), alpha (length penalty), hypothesis (which n-best entry's
    attention to return, 0 = best).
    """
    check_options(opts, _TRANSLATION_OPTS, task_name)
    beam = int_option(opts, "beam", 1, 1, MAX_BEAM)
    n_best = int_option(opts, "n_best", 1, 1, MAX_BEAM)
    if n_best > beam:
        raise UserError(f"n_best {n_best} is larger than beam {beam}; raise the beam")
    alpha = float_option(opts, "alpha", 0.6, 0.0, 5.0)
    nbest = task.translate(model, [text], beam=beam, n_best=n_best, alpha=float(alpha))[0]
    pick = int_option(opts, "hypothesis", 0, 0, MAX_BEAM - 1)
    if pick >= len(nbest):
        raise UserError(f"hypothesis {pick} does not exist: the n-best list has {len(nbest)} entries")
    t = nbest[pick]
    result = {
        "text": nbest[0].text,
        "n_best": [
            {"text": h.text, "score": round(float(h.score), 4), "tokens": list(h.tgt_tokens)} for h in nbest
        ],
        "src_tokens": list(t.src_tokens),
        "tgt_tokens": list(t.tgt_tokens),
        "hypothesis": pick,
        "beam": beam,
    }
    return {
        "task": task_name,
        "input": text,
        "result": result,
        "attention": _seq2seq_maps(task, model, text, t),
    }


def _seq2seq_maps(task, model, text: str, t) -> list[dict]:
    src, out = list(t.src_tokens), list(t.tgt_tokens)
    if t.attention is None or not out:
        return []
    att = t.attention.float()
    if att.dim() == 2:  # RNN: (T_out, S) -> one layer, one head
        return [attention_map("rnn", att[None, None], out, src, title="decoder → source (RNN attention)")]
    # Transformer: (T_out, layers, heads, S) from search; the teacher-forced pass gives all three kinds.
    dec_in = ["<bos>", *out[:-1]]
    maps_fn = getattr(model, "attention_maps", None)
    if maps_fn is None:
        return [attention_map("cross", att.permute(1, 2, 0, 3), out, src, title="decoder → source")]
    device = next(model.parameters()).device
    src_ids, _ = task.encode_source([text])  # the ids `translate` used
    ids = task.tgt_codec.vocab.encode(out)  # decoded with strip_specials=False: every token maps back exactly
    # the decoder's input: <bos> + every produced token but the last
    tgt_in = torch.tensor([[Vocab.BOS, *ids[:-1]]], device=device)
    maps = maps_fn(
        torch.tensor(src_ids, device=device), torch.tensor([len(src_ids[0])], device=device), tgt_in
    )

    def stack(name):  # layers × (1, H, T_q, T_k) -> (L, H, T_q, T_k)
        return torch.stack([m[0] for m in maps[name]], 0)

    return [
        attention_map("encoder", stack("encoder"), src, src, title="encoder self-attention"),
        attention_map("decoder", stack("decoder"), out, dec_in, title="decoder self-attention (masked)"),
        attention_map("cross", stack("cross"), out, src, title="decoder → source (cross-attention)"),
    ]


# --------------------------------------------------------------------------------------------- dispatch


def explain(run, text: str, **opts) -> dict:
    """Run `text` through a loaded run (attnlab.runs.Run) -> the contract dict above.

    A task's own `explain(model, text, **opts)` wins; translation (and chat, a TranslationTask) have the
    built-in seq2seq view; any other task raises UserError "task X has no explorer view yet".
    """
    if not isinstance(text, str) or not text.strip():
        raise UserError("empty input: type some text")
    task_name = run.recipe.task
    own = getattr(run.task, "explain", None)
    if callable(own):
        return check_explained(own(run.model, text, **opts))
    from attnlab.tasks.translation import TranslationTask

    if isinstance(run.task, TranslationTask):
        return explain_seq2seq(run.task, run.model, text, task_name=task_name, **opts)
    raise UserError(f"task {task_name} has no explorer view yet")
