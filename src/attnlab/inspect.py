"""Attention of a trained run on one input, drawn with viz/plots.py (CLI `plot attention`).

RNN seq2seq: one (output × source) heatmap. Transformer seq2seq (translation, chat): the maps of every
layer and head, for the cross-attention (`kind="cross"`, default) and each self-attention (`"encoder"`,
`"decoder"`; `"all"` writes all three), as a layers × heads grid, or one layer's heads (`layer`), or one
heatmap (`layer` and `head`, 1-based). The maps come from a teacher-forced pass over the greedy output, which
gives exactly the weights the decoder used while generating it (tests/models/test_transformer_seq2seq.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.runs import Run, load_run
from attnlab.viz import plots

KINDS = ("cross", "encoder", "decoder", "all")


def plot_run_attention(
    run: str | Path | Run,
    text: str,
    output: str | Path,
    *,
    kind: str = "cross",
    layer: int | None = None,
    head: int | None = None,
) -> list[Path]:
    if kind not in KINDS:
        raise UserError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if head is not None and layer is None:
        raise UserError("--head needs --layer (which layer's head to draw)")
    loaded = run if isinstance(run, Run) else load_run(run)
    task, model = loaded.task, loaded.model
    output = Path(output)
    if not hasattr(task, "translate"):
        return task.plot_attention(model, text, output)
    t = task.translate(model, [text], beam=1)[0][0]
    if not hasattr(model, "attention_maps"):  # RNN seq2seq
        if t.attention is None:
            raise UserError(f"{loaded.path} has no attention (model.attention is 'none'): nothing to plot")
        if kind != "cross" or layer is not None:
            raise UserError(
                "--kind/--layer/--head apply to Transformer runs; this run is an RNN with one map"
            )
        return [
            plots.attention_heatmap(
                t.attention.numpy(), t.src_tokens, t.tgt_tokens, output, title=f"{text}  →  {t.text}"
            )
        ]
    return _transformer(task, model, text, t, output, kind, layer, head)


def transformer_maps(task, model, text: str, translation) -> dict:
    """All attention maps of `model` translating `text` (its greedy output `translation`), per layer
    (heads, T_q, T_k) as numpy arrays, with the token labels of each axis."""
    (src_ids,), _ = task.encode_source([text])
    out = [tok for tok in translation.tgt_tokens if tok != "<eos>"]
    tgt_in = [2, *task.tgt_codec.vocab.encode(out)]  # <bos> y_1 .. y_n: one row per tgt_tokens entry
    tgt_in = tgt_in[: len(translation.tgt_tokens)] if translation.tgt_tokens else tgt_in[:1]
    device = next(model.parameters()).device
    src = torch.tensor([src_ids], device=device)
    maps = model.attention_maps(
        src, torch.tensor([len(src_ids)], device=device), torch.tensor([tgt_in], device=device)
    )
    dec_in = ["<bos>", *out][: len(tgt_in)]
    labels = {
        "encoder": (translation.src_tokens, translation.src_tokens),
        "decoder": (dec_in, dec_in),
        "cross": (translation.tgt_tokens or dec_in, translation.src_tokens),
    }
    return {k: (torch.stack([m[0] for m in v]).float().cpu().numpy(), *labels[k]) for k, v in maps.items()}


def _transformer(task, model, text, t, output: Path, kind, layer, head) -> list[Path]:
    maps = transformer_maps(task, model, text, t)
    n_layers, n_heads = maps["cross"][0].shape[:2]
    if layer is not None and not 1 <= layer <= n_layers:
        raise UserError(f"--layer must be between 1 and {n_layers} for this model, got {layer}")
    if head is not None and not 1 <= head <= n_heads:
        raise UserError(f"--head must be between 1 and {n_heads} for this model, got {head}")
    names = {
        "cross": "cross-attention",
        "encoder": "encoder self-attention",
        "decoder": "decoder self-attention",
    }
    kinds = ["cross", "encoder", "decoder"] if kind == "all" else [kind]
    paths = []
    for k in kinds:
        weights, q_tokens, k_tokens = maps[k]
        path = output if len(kinds) == 1 else output.with_name(f"{output.stem}-{k}{output.suffix or '.png'}")
        title = f"{names[k]}: {text}  →  {t.text}"
        if layer is not None and head is not None:
            paths.append(
                plots.attention_heatmap(
                    weights[layer - 1, head - 1],
                    k_tokens,
                    q_tokens,
                    path,
                    title=f"{title}  (layer {layer}, head {head})",
                )
            )
        else:
            grid = weights if layer is None else weights[layer - 1 : layer]
            paths.append(
                plots.attention_grid(
                    grid, q_tokens, k_tokens, path, title=title + (f"  (layer {layer})" if layer else "")
                )
            )
    return paths
