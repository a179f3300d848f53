"""The explain() contract, the option helpers of a request, and the one attention extraction of every model
family. A task's `explain(model, text, **opts)` (tasks/) returns this dict; the web explorer (serve/), the
offline HTML / bertviz exports (viz/html.py) and `attnlab plot attention` (inspect.py) draw only from it.
This module sits below tasks/: it knows models only by the methods they have, never runs or servers.

The contract:

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
# The widest beam one explorer request may ask for; the CLI allows tasks.translation.MAX_BEAM.
REQUEST_MAX_BEAM = 16


def attention_map(
    name: str, weights, q_tokens: list[str], k_tokens: list[str], *, title: str | None = None
) -> dict[str, Any]:
    """One contract map from weights shaped (layers, heads, T_q, T_k) (a tensor, array or nested lists),
    rounded to 4 decimals (≈ 3x smaller JSON)."""
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    w = np.round(np.asarray(weights, dtype=np.float64), 4)
    if w.ndim != 4:
        raise ValueError(f"attention map {name!r} must be (layers, heads, T_q, T_k), got shape {w.shape}")
    if w.shape[2] != len(q_tokens) or w.shape[3] != len(k_tokens):
        raise ValueError(
            f"attention map {name!r} is {w.shape} but has {len(q_tokens)} query and "
            f"{len(k_tokens)} key tokens"
        )
    out = {"name": name, "layers": w.tolist(), "q_tokens": list(q_tokens), "k_tokens": list(k_tokens)}
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


# --------------------------------------------------------------------------------------------- options


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


# --------------------------------------------------------------------------------------------- extraction


def _stack(layers: list[torch.Tensor]) -> torch.Tensor:
    """A model's per-layer maps of one example, L × (1, H, T_q, T_k) -> (L, H, T_q, T_k)."""
    return torch.stack([w[0] for w in layers])


def _one(model, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ids of one example -> ids (1, T) and lengths (1,) on the model's device."""
    device = next(model.parameters()).device
    return torch.tensor([ids], device=device), torch.tensor([len(ids)], device=device)


def rnn_seq2seq_maps(attention: torch.Tensor | None, src_tokens: list[str], out_tokens: list[str]):
    """RNN seq2seq: the search's own per-step attention (T_out, S), as one layer with one head."""
    if attention is None or not out_tokens:
        return []
    return [attention_map("rnn", attention.float()[None, None], out_tokens, src_tokens,
                          title="decoder → source (RNN attention)")]  # fmt: skip


@torch.no_grad()
def transformer_seq2seq_maps(
    model, src_ids: list[int], out_ids: list[int], src_tokens: list[str], out_tokens: list[str]
) -> list[dict]:
    """Transformer seq2seq: encoder, decoder and cross-attention of a teacher-forced pass over the decoder's
    input — <bos>, then every produced token (out_ids, one per out_tokens entry, </s> included when it was
    produced) but the last. Causal masking makes its row t exactly what search step t computed
    (tests/test_explain.py), for every layer and head at once."""
    if not out_tokens:
        return []
    src, src_len = _one(model, src_ids)
    maps = model.attention_maps(src, src_len, _one(model, [Vocab.BOS, *out_ids[:-1]])[0])
    s, out, dec = src_tokens, out_tokens, [Vocab.SPECIALS[Vocab.BOS], *out_tokens[:-1]]
    return [
        attention_map("encoder", _stack(maps["encoder"]), s, s, title="encoder self-attention"),
        attention_map("decoder", _stack(maps["decoder"]), out, dec, title="decoder self-attention (masked)"),
        attention_map("cross", _stack(maps["cross"]), out, s, title="decoder → source (cross-attention)"),
    ]


def pooling_map(weights: list[float], tokens: list[str]) -> dict:
    """A classifier's attention pooling: one weight per token, as one query "<pooled>"."""
    return attention_map("pooling", [[[weights]]], ["<pooled>"], tokens, title="attention pooling")


@torch.no_grad()
def encoder_maps(model, ids: list[int], tokens: list[str]) -> list[dict]:
    """A Transformer classifier: every encoder layer's self-attention over [<cls>; tokens]."""
    layers = model.attention_maps(*_one(model, ids))
    labels = ["<cls>", *tokens]
    return [attention_map("encoder", _stack(layers), labels, labels, title="encoder self-attention")]


@torch.no_grad()
def causal_maps(model, ids: list[int], tokens: list[str]) -> list[dict]:
    """A GPT language model: every layer's causal self-attention over ids (at most its context)."""
    layers = model.attention_maps(_one(model, ids)[0])
    return [attention_map("decoder", _stack(layers), tokens, tokens, title="causal self-attention")]
