"""Attention of a trained run on one input, drawn with viz/plots.py (CLI `plot attention`)."""

from __future__ import annotations

from pathlib import Path

from attnlab.runs import load_run
from attnlab.viz import plots


def plot_run_attention(run: str | Path, text: str, output: str | Path) -> list[Path]:
    loaded = load_run(run)
    task, model = loaded.task, loaded.model
    output = Path(output)
    if loaded.recipe.task == "translation":
        t = task.translate(model, [text], beam=1)[0][0]
        weights = t.attention
        if weights is None:
            from attnlab.errors import UserError

            raise UserError(f"{run} has no attention (model.attention is 'none'): nothing to plot")
        if weights.dim() == 2:  # RNN: (T_out, S)
            return [plots.attention_heatmap(weights.numpy(), t.src_tokens, t.tgt_tokens, output,
                                            title=f"{text}  →  {t.text}")]
    return task.plot_attention(model, text, output)
