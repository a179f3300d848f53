"""Attention of a trained run on one input as PNG files, drawn with viz/plots.py (CLI `plot attention`).

The maps are those of the task's explain() dict (attnlab/explain.py), which the explorer and the offline
views draw as well. RNN seq2seq: one (output × source) heatmap. Transformer seq2seq (translation, chat): the
maps of every layer and head, for the cross-attention (`kind="cross"`, default) and each self-attention
(`"encoder"`, `"decoder"`; `"all"` writes all three), as a layers × heads grid, or one layer's heads
(`layer`), or one heatmap (`layer` and `head`, 1-based); a GPT language model has the `"decoder"` kind.
Classifiers shade the tokens by their attention pooling (tasks/classification.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attnlab.errors import UserError
from attnlab.runs import Run, load_run
from attnlab.tasks.classification import ClassificationTask
from attnlab.viz import plots

KINDS = ("cross", "encoder", "decoder", "all")
NAMES = {"cross": "cross-attention", "encoder": "encoder self-attention", "decoder": "decoder self-attention"}


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
    output = Path(output)
    if isinstance(loaded.task, ClassificationTask):  # one PNG of shaded tokens (classic runs refuse)
        return loaded.task.plot_attention(loaded.model, text, output)
    data = loaded.task.explain(loaded.model, text)
    maps = {m["name"]: m for m in data["attention"]}
    title = f"{text}  →  {data['result']['text']}"
    if not maps:
        why = " (model.attention is 'none')" if loaded.recipe.arch == "rnn" else ""
        raise UserError(f"{loaded.path} has no attention{why}: nothing to plot")
    if "rnn" in maps:
        if kind != "cross" or layer is not None:
            raise UserError(
                "--kind/--layer/--head apply to Transformer runs; this run is an RNN with one map"
            )
        m = maps["rnn"]
        return [plots.attention_heatmap(m["layers"][0][0], m["k_tokens"], m["q_tokens"], output, title=title)]
    kinds = [k for k in NAMES if k in maps] if kind == "all" else [kind]
    paths = []
    for k in kinds:
        if k not in maps:
            raise UserError(f"--kind {k}: this run has no such map; it has {', '.join(maps)}")
        weights = np.asarray(maps[k]["layers"])
        n_layers, n_heads = weights.shape[:2]
        if layer is not None and not 1 <= layer <= n_layers:
            raise UserError(f"--layer must be between 1 and {n_layers} for this model, got {layer}")
        if head is not None and not 1 <= head <= n_heads:
            raise UserError(f"--head must be between 1 and {n_heads} for this model, got {head}")
        # Self-attention rows are labelled like its columns: the PNG shows a square map over one sequence.
        k_tokens = maps[k]["k_tokens"]
        q_tokens = k_tokens if k == "decoder" else maps[k]["q_tokens"]
        path = output if len(kinds) == 1 else output.with_name(f"{output.stem}-{k}{output.suffix or '.png'}")
        label = f"{NAMES[k]}: {title}"
        if layer is not None and head is not None:
            label += f"  (layer {layer}, head {head})"
            paths.append(
                plots.attention_heatmap(weights[layer - 1, head - 1], k_tokens, q_tokens, path, title=label)
            )
        else:
            grid = weights if layer is None else weights[layer - 1 : layer]
            label += f"  (layer {layer})" if layer else ""
            paths.append(plots.attention_grid(grid, q_tokens, k_tokens, path, title=label))
    return paths
