"""Offline attention views and bertviz-layout exports of an explain() dict (attnlab/explain.py's contract;
serve/explain.py makes one from a run, and `attnlab plot attention` writes these files from it).

    write_html(data, path)          one self-contained HTML file: the explorer's CSS and JS inlined, the
                                    data embedded as JSON; opens without any network (its
                                    Content-Security-Policy forbids every fetch).
    write_bertviz_json(data, path)  the maps in the layout bertviz's head_view / model_view take: per
                                    layer a [1][heads][T_q][T_k] array, plus the tokens.

bertviz layout (keys are bertviz's argument names, so `head_view(**{k: to_tensors(v) ...})` works):
    self-attention only (classifier, language model):
        {"attention": [layer][1][heads][T][T], "tokens": [...]}
    encoder–decoder (translation, chat):
        {"encoder_attention": ..., "decoder_attention": ..., "cross_attention": [layer][1][heads][T_dec][T_enc],
         "encoder_tokens": [...], "decoder_tokens": [...]}   (the maps a model lacks are left out; an RNN's
         attention is its cross_attention). decoder_tokens are the decoder's input tokens (<bos> first), as in
         HuggingFace's decoder_input_ids; "attnlab" carries the task, input and result.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parents[1] / "serve" / "static"

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: '<', '>' and '&' escaped, so no token can close the element."""
    return (
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_html(data: dict, *, title: str | None = None) -> str:
    """A complete, self-contained HTML document drawing `data` (explain()'s dict) with the explorer's views."""
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    for name, code in (("style.css", css), ("app.js", js)):
        if "</script" in code.lower() or "</style" in code.lower():
            raise ValueError(f"serve/static/{name} must not contain a closing </script> or </style> tag")
    title = title or f"attnlab · {data.get('task', 'attention')} · {str(data.get('input', ''))[:60]}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{css}
</style>
</head>
<body class="offline">
<header><h1>attnlab <span>attention view</span></h1></header>
<main>
<div id="status"></div>
<section id="result" aria-label="result"></section>
<section id="attention" aria-label="attention"></section>
</main>
<script type="application/json" id="attnlab-data">{_script_json(data)}</script>
<script>
{js}
</script>
</body>
</html>
"""


def write_html(data: dict, path: str | Path, *, title: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data, title=title), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------- bertviz


def _per_layer(m: dict) -> list:
    """contract layers (L, H, T_q, T_k) -> bertviz's list over layers of [1][H][T_q][T_k]."""
    return [[layer] for layer in m["layers"]]


def bertviz_layout(data: dict) -> dict:
    """explain()'s dict -> the arguments bertviz's head_view / model_view accept (as nested lists)."""
    maps = {m["name"]: m for m in data.get("attention", [])}
    meta = {"task": data.get("task"), "input": data.get("input"), "result": data.get("result")}
    cross = maps.get("cross") or maps.get("rnn")
    if cross is not None or "encoder" in maps:  # encoder–decoder (a lone "decoder" map is a decoder-only LM)
        out: dict[str, Any] = {}
        if "encoder" in maps:
            out["encoder_attention"] = _per_layer(maps["encoder"])
        if "decoder" in maps:
            out["decoder_attention"] = _per_layer(maps["decoder"])
        if cross is not None:
            out["cross_attention"] = _per_layer(cross)
        enc = maps.get("encoder") or cross
        out["encoder_tokens"] = list(enc["k_tokens"])
        if "decoder" in maps:
            out["decoder_tokens"] = list(maps["decoder"]["k_tokens"])
        elif cross is not None:  # the decoder's inputs: <bos> then every produced token but the last
            out["decoder_tokens"] = ["<bos>", *cross["q_tokens"][:-1]]
        out["attnlab"] = meta
        return out
    selfs = [m for m in data.get("attention", []) if m["q_tokens"] == m["k_tokens"]]
    if selfs:
        m = selfs[0]
        return {"attention": _per_layer(m), "tokens": list(m["k_tokens"]), "attnlab": meta}
    if maps:  # only non-square maps (e.g. a classifier's pooling): bertviz cannot draw them; keep them anyway
        m = next(iter(maps.values()))
        return {
            "attention": _per_layer(m),
            "tokens": list(m["k_tokens"]),
            "query_tokens": list(m["q_tokens"]),
            "attnlab": meta,
        }
    from attnlab.errors import UserError

    raise UserError(f"the {data.get('task')} run produced no attention maps to export")


def write_bertviz_json(data: dict, path: str | Path) -> Path:
    """`--export-attention out.json`: the bertviz layout of explain()'s dict."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bertviz_layout(data), ensure_ascii=False), encoding="utf-8")
    return path
