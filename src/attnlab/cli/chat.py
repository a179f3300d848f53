"""`attnlab chat RUN`: talk to a trained chat run (interactive prompt, piped lines, or arguments)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from attnlab.cli import _texts, app, out
from attnlab.errors import UserError

QUIT = {"quit", "exit", ":q", "/quit", "종료"}


@app.command()
def chat(
    run: Path,
    messages: Annotated[
        list[str] | None,
        typer.Argument(help="messages (else an interactive prompt, or one message per line of piped stdin)"),
    ] = None,
    beam: Annotated[int, typer.Option(min=1, max=64, help="beam search width (1 = greedy)")] = 1,
    temperature: Annotated[
        float | None, typer.Option(help="sample with this temperature instead of searching")
    ] = None,
    top_p: Annotated[
        float | None, typer.Option("--top-p", help="nucleus sampling: keep this much probability mass")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed for sampling (reproducible replies)")] = None,
) -> None:
    """Chat with a trained run. Type `quit` (or Ctrl-D) to leave; piped stdin gets one reply per line."""
    from attnlab.runs import load_run

    if temperature is not None and temperature <= 0:
        raise UserError(f"--temperature must be positive, got {temperature}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise UserError(f"--top-p must be in (0, 1], got {top_p}")
    if (temperature is not None or top_p is not None) and beam > 1:
        raise UserError("choose either --beam or sampling (--temperature / --top-p), not both")
    if messages and any(not m.strip() for m in messages):
        raise UserError("empty message: give some text to say")
    interactive = not messages and sys.stdin is not None and sys.stdin.isatty()
    loaded = load_run(run)
    loaded.task.require("reply")  # before an interactive session starts
    options = dict(beam=beam, temperature=temperature, top_p=top_p, seed=seed)

    def respond(texts: list[str]) -> list[str]:
        return loaded.task.reply(loaded.model, texts, **options)

    if not interactive:
        for reply in respond(_texts(messages)):
            out.print(reply, highlight=False, markup=False)
        return
    out.print(
        f"[dim]chatting with[/] {escape(str(run))}[dim] — type quit or press Ctrl-D to leave[/]", markup=True
    )
    while True:
        try:
            text = input("> ")
        except EOFError:
            out.print()
            return
        except UnicodeDecodeError:  # the rest of what was typed cannot be read either
            raise UserError(
                "the terminal sent text that is not UTF-8; use a UTF-8 locale (e.g. LANG=C.UTF-8)"
            ) from None
        if text.strip().lower() in QUIT:
            return
        if not text.strip():
            out.print("[yellow]empty message: type something (or quit)[/]", markup=True)
            continue
        try:
            (reply,) = respond([text])
        except UserError as err:  # too long, etc.: say so and keep chatting
            out.print(f"[yellow]{escape(str(err))}[/]", markup=True)
            continue
        out.print(reply, highlight=False, markup=False)
