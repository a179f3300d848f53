"""`attnlab serve`: the attention explorer in the browser (serve/app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from attnlab.cli import app, out


@app.command()
def serve(
    runs: Annotated[list[Path], typer.Argument(help="run directories to load (chosen on the page by name)")],
    host: Annotated[
        str, typer.Option(help="address to bind; the default is reachable from this machine only")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0 = any free port)")] = 8000,
    max_chars: Annotated[int, typer.Option(min=1, max=100_000, help="longest input, in characters")] = 1000,
    max_body: Annotated[
        int, typer.Option(min=1024, max=16 * 2**20, help="largest request body, bytes")
    ] = 65536,
    device: Annotated[str, typer.Option(help="cpu, cuda or mps")] = "cpu",
) -> None:
    """Serve the attention explorer: type an input, see the result and its attention maps."""
    import uvicorn

    from attnlab.serve.app import LOOPBACK, Limits, create_app, load_runs

    loaded, names = load_runs(runs, device=device)
    allowed = [*LOOPBACK, "[::1]"] if host in LOOPBACK else None
    application = create_app(
        loaded,
        names,
        limits=Limits(max_body_bytes=max_body, max_input_chars=max_chars),
        allowed_hosts=allowed,
    )
    if host not in LOOPBACK:
        out.print(
            f"[yellow]warning:[/] serving on {escape(host)}: anyone who can reach this address can run the models",
            markup=True,
        )
    for name, run in zip(names, loaded, strict=True):
        out.print(f"loaded {name} ({run.recipe.task}) from {run.path}")
    shown = f"[{host}]" if ":" in host else host
    out.print(f"attention explorer at http://{shown}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)
