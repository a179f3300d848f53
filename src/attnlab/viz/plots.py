"""Every matplotlib figure attnlab draws: attention maps, positional encodings, schedules, curves, the
training curves of runs.

Functions take plain arrays and write one PNG (returning its path), so tasks, the CLI, the evidence
experiments and the web explorer all draw the same pictures. Korean and other CJK text renders with the
first installed CJK font (fonts-nanum, installed by `make setup`), falling back to DejaVu Sans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, no GUI backend imported
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.lines import Line2D

_CJK_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "UnDotum")


def _setup_fonts() -> None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in _CJK_FONTS if name in installed]
    # A list in font.family (not the generic "sans-serif") is what enables matplotlib's per-glyph
    # fallback: Latin glyphs come from DejaVu Sans, Hangul from the CJK font.
    plt.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    plt.rcParams["axes.unicode_minus"] = False


_setup_fonts()


def has_cjk_font() -> bool:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return any(name in installed for name in _CJK_FONTS)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def attention_heatmap(
    weights: np.ndarray,
    src_tokens: Sequence[str],
    out_tokens: Sequence[str],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """One attention matrix (T_out, S): source tokens along x (rotated), output tokens along y."""
    weights = np.asarray(weights, dtype=float)
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(src_tokens) + 2), max(3, 0.45 * len(out_tokens) + 1.5)))
    im = ax.matshow(weights, cmap="viridis", vmin=0.0, vmax=max(1e-9, float(weights.max())))
    ax.set_xticks(range(len(src_tokens)), labels=list(src_tokens), rotation=90)
    ax.set_yticks(range(len(out_tokens)), labels=list(out_tokens))
    ax.tick_params(axis="x", bottom=False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, pad=40 if len(src_tokens) else 10)
    return _save(fig, path)


def attention_grid(
    weights: np.ndarray,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """All heads of all layers: weights (layers, heads, T_q, T_k) as a layers × heads grid of heatmaps."""
    weights = np.asarray(weights, dtype=float)
    layers, heads = weights.shape[:2]
    size = 0.22 * max(len(k_tokens), len(q_tokens)) + 1.2
    fig, axes = plt.subplots(layers, heads, figsize=(size * heads, size * layers), squeeze=False)
    for i in range(layers):
        for j in range(heads):
            ax = axes[i][j]
            ax.matshow(weights[i, j], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == layers - 1:
                ax.set_xticks(range(len(k_tokens)), labels=list(k_tokens), rotation=90, fontsize=7)
                ax.tick_params(axis="x", top=False, labeltop=False, bottom=True, labelbottom=True)
            if j == 0:
                ax.set_yticks(range(len(q_tokens)), labels=list(q_tokens), fontsize=7)
                ax.set_ylabel(f"layer {i + 1}")
            if i == 0:
                ax.set_title(f"head {j + 1}", fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def token_shading(
    tokens: Sequence[str], weights: Sequence[float], path: str | Path, *, title: str = ""
) -> Path:
    """A sentence with each token shaded by its attention weight (classifier attention pooling)."""
    weights = np.asarray(weights, dtype=float)
    scale = weights / max(float(weights.max()), 1e-9)
    per_line = 12
    lines = max(1, (len(tokens) + per_line - 1) // per_line)
    fig, ax = plt.subplots(figsize=(10, 0.45 * lines + 0.8))
    ax.set_axis_off()
    cmap = plt.get_cmap("Reds")
    for i, (tok, w) in enumerate(zip(tokens, scale, strict=True)):
        row, col = divmod(i, per_line)
        ax.text(
            col / per_line,
            1 - (row + 0.5) / lines,
            tok,
            fontsize=10,
            ha="left",
            va="center",
            bbox={"facecolor": cmap(0.1 + 0.8 * w), "edgecolor": "none", "pad": 2},
            transform=ax.transAxes,
        )
    if title:
        ax.set_title(title)
    return _save(fig, path)


def positional_encoding(pe: np.ndarray, path: str | Path) -> Path:
    """The sinusoidal encoding matrix (length, d_model) as a heatmap, as in the seed's figure."""
    fig, ax = plt.subplots(figsize=(8, 4))
    im = ax.pcolormesh(np.asarray(pe), cmap="RdBu", vmin=-1, vmax=1)
    ax.set_xlabel("depth (embedding dimension)")
    ax.set_ylabel("position")
    ax.invert_yaxis()
    fig.colorbar(im, ax=ax)
    ax.set_title(f"Sinusoidal positional encoding ({pe.shape[0]} positions × {pe.shape[1]} dims)")
    return _save(fig, path)


def lr_schedule(steps: np.ndarray, lrs: np.ndarray, path: str | Path, *, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, lrs)
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def curves(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    logx: bool = False,
) -> Path:
    """Several named (x, y) lines on one axis: losses, BLEU by length, tokens/s against length.

    ``logx`` puts x on a base-2 log scale with the x values as ticks (d_k 8 … 1024, lengths 32 … 512); a
    few (≤ 12) integer x values (n-gram orders, delays) also get exactly those ticks.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, (x, y) in series.items():
        ax.plot(list(x), list(y), marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ticks = sorted({float(v) for x, _ in series.values() for v in x})
    if logx:
        ax.set_xscale("log", base=2)
    if logx or (len(ticks) <= 12 and all(v.is_integer() for v in ticks)):  # few discrete x: label each
        ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


_METRIC_NAMES = {"bleu": "BLEU", "chrf": "chrF", "ppl": "perplexity", "bpc": "bits per character", "f1": "F1"}


def training_curves(
    runs: dict[str, dict],
    path: str | Path,
    *,
    x: str = "steps",
    title: str = "",
) -> Path:
    """Training curves of one or more runs on shared axes: the train loss (thin line) and the validation
    loss (dots) in the first panel, then a panel per validation metric the runs select on (`train.metric`)
    when that is not the loss, e.g. BLEU. One colour per run, named in the legend; a star marks each run's
    best checkpoint.

    ``runs`` maps a legend name to {"records": the run's metrics.jsonl records (dicts with step, split,
    seconds and the logged values), "metric": its train.metric, "best_step": its best checkpoint's step or
    None}. ``x`` is "steps" or "minutes" (the records' training seconds, validation time excluded).
    """
    key, scale = {"steps": ("step", 1.0), "minutes": ("seconds", 1 / 60)}[x]

    def series(records: Sequence[dict], split: str, name: str) -> tuple[list[float], list[float]]:
        points = [
            (r[key] * scale, r[name])
            for r in records
            if r.get("split") == split and isinstance(r.get(key), int | float) and _number(r.get(name))
        ]
        return [p[0] for p in points], [p[1] for p in points]

    metrics = list(dict.fromkeys(r["metric"] for r in runs.values() if r.get("metric", "loss") != "loss"))
    panels = ["loss", *metrics]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels) + 0.8, 4.2), squeeze=False)
    for i, (run_name, run) in enumerate(runs.items()):
        colour, records = f"C{i % 10}", run["records"]
        best = next(
            (r for r in records if r.get("split") == "valid" and r.get("step") == run.get("best_step")), None
        )
        for ax, panel in zip(axes[0], panels, strict=True):
            if panel == "loss":
                ax.plot(*series(records, "train", "loss"), color=colour, linewidth=1, alpha=0.55)
            vx, vy = series(records, "valid", panel)
            ax.plot(vx, vy, color=colour, linewidth=1.6, marker="o", markersize=3.5,
                    label=run_name if panel == "loss" else None)  # fmt: skip
            if best is not None and isinstance(best.get(key), int | float) and _number(best.get(panel)):
                bx = best[key] * scale
                ax.axvline(bx, color=colour, linestyle=":", linewidth=1, alpha=0.6)
                ax.plot([bx], [best[panel]], marker="*", markersize=14, color=colour,
                        markeredgecolor="black", markeredgewidth=0.7, linestyle="none", zorder=5)  # fmt: skip
    xlabel = "training step" if x == "steps" else "training time (minutes, validation excluded)"
    for ax, panel in zip(axes[0], panels, strict=True):
        ax.set_xlabel(xlabel)
        name = _METRIC_NAMES.get(panel, panel)
        ax.set_ylabel(name)
        ax.set_title("loss: train (line) and validation (dots)" if panel == "loss" else f"validation {name}")
        ax.grid(alpha=0.3)
    # The runs by colour, then what the line styles mean (grey stand-ins).
    handles, labels = axes[0][0].get_legend_handles_labels()
    keys = [
        (Line2D([], [], color="grey", linewidth=1, alpha=0.55), "train loss"),
        (Line2D([], [], color="grey", linewidth=1.6, marker="o", markersize=3.5), "validation"),
        (Line2D([], [], color="grey", marker="*", markersize=12, markeredgecolor="black", linestyle="none"),
         "best checkpoint"),
    ]  # fmt: skip
    axes[0][0].legend(handles + [h for h, _ in keys], labels + [n for _, n in keys], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def curves_before_after(
    before: dict[str, tuple[Sequence[float], Sequence[float]]],
    after: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    states: tuple[str, str] = ("at initialisation", "after training"),
) -> Path:
    """Named (x, y) lines in two states on one axis: one colour per name, dashed `before`, solid `after`
    (e.g. gradient norm against distance for each cell, untrained and trained)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, name in enumerate(dict.fromkeys([*after, *before])):
        for series, style, state in ((before, "--", states[0]), (after, "-", states[1])):
            if name in series:
                x, y = series[name]
                ax.plot(
                    list(x), list(y), style, color=f"C{i}", marker="o", markersize=2, label=f"{name}, {state}"
                )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def grouped_bars(
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    ylabel: str,
    title: str = "",
) -> Path:
    """Bars per group (e.g. BLEU per source-length bucket) for each named series (e.g. each model)."""
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) + 2), 4))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, list(values), width, label=name)
    ax.set_xticks(x, labels=list(groups))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    # Headroom above the tallest bar for the legend's rows, so the legend never hides a bar.
    ncol = 1 if len(series) <= 3 else 2
    top = max((v for vs in series.values() for v in vs if np.isfinite(v)), default=1.0) or 1.0
    ax.set_ylim(0, top * (1.12 + 0.1 * math.ceil(len(series) / ncol)))
    ax.legend(loc="upper right", ncol=ncol, fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def small_multiples(
    panels: dict[str, dict[str, tuple[Sequence, Sequence[float]]]],
    path: str | Path,
    *,
    xlabel: str = "",
    title: str = "",
    bars: bool = False,
    refs: dict[str, dict[str, float | Sequence[float]]] | None = None,
    ref_name: str = "reference",
) -> Path:
    """Side-by-side axes, one per panel (its key is the axis title), each with named (x, y) series.

    ``bars`` draws one bar series per panel with its values written on the bars (x may be labels);
    otherwise lines with markers. ``refs`` adds dashed horizontal lines, {panel: {label: y or [y, ...]}}:
    a label naming a series of the panel is drawn in its colour (one legend entry, ``ref_name``, for all
    of them); any other label is a grey line with its own legend entry.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        colours = {}
        for label, (x, y) in series.items():
            if bars:
                drawn = ax.bar([str(v) for v in x], list(y), label=label or None)
                ax.bar_label(drawn, labels=[f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" for v in y],
                             fontsize=8, padding=2)  # fmt: skip
                ax.margins(y=0.12)  # room for the value labels above (and below) the bars
                ax.tick_params(axis="x", labelrotation=30)
                plt.setp(ax.get_xticklabels(), ha="right")
                colours[label] = drawn.patches[0].get_facecolor()
            else:
                (line,) = ax.plot(list(x), list(y), marker="o", markersize=3, label=label or None)
                colours[label] = line.get_color()
        matched = False
        for label, ys in (refs or {}).get(name, {}).items():
            matched |= label in colours
            for j, y in enumerate(ys if isinstance(ys, list | tuple) else [ys]):
                own = None if j or label in colours else label
                ax.axhline(y, color=colours.get(label, "grey"), linestyle="--", linewidth=1, label=own)
        if matched:
            ax.plot([], [], color="grey", linestyle="--", linewidth=1, label=ref_name)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(axis="y" if bars else "both", alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def attention_panels(
    panels: Sequence[tuple[np.ndarray, Sequence[str], Sequence[str], str]],
    path: str | Path,
    *,
    cols: int = 4,
    title: str = "",
) -> Path:
    """Several attention matrices (weights (T_out, S), src_tokens, out_tokens, panel title) in a grid,
    each on the same 0-1 colour scale so sharp and flat maps can be compared at a glance."""
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_axis_off()
    for ax, (weights, src, out, name) in zip(axes.flat, panels, strict=False):
        ax.matshow(np.asarray(weights, dtype=float), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(src)), labels=list(src), rotation=90, fontsize=8)
        ax.set_yticks(range(len(out)), labels=list(out), fontsize=8)
        ax.tick_params(axis="x", bottom=False)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
