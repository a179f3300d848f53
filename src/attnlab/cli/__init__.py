"""The `attnlab` command: one thin verb per library entry point, grouped by task in this package.

Every user mistake surfaces as a `UserError`: `main()` prints it as one line and exits with code 2, with
no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from attnlab.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train, evaluate, inspect and use attention-based sequence models.",
)
data_app = typer.Typer(no_args_is_help=True, help="Datasets: list, show, fetch.")
plot_app = typer.Typer(
    no_args_is_help=True, help="Figures: attention maps, training curves, positional encodings, schedules."
)
app.add_typer(data_app, name="data")
app.add_typer(plot_app, name="plot")
# markup=False: what is printed holds user text (paths, messages quoting the input), and "[/]" in it would
# be read as a closing tag (MarkupError). The few styled lines opt in with markup=True and escape().
# soft_wrap=True: without a terminal rich wraps at 80 columns, which splits a long path or message across
# lines and breaks every script (and test) that reads our output line by line.
out = Console(markup=False, soft_wrap=True)


def _utf8(text: str, what: str = "the text") -> str:
    """`text` itself, if it is valid UTF-8. Python decodes arguments with surrogateescape, so argument bytes
    that are not UTF-8 arrive as lone surrogates, which no tokenizer handles and no UTF-8 terminal can print
    back: refuse them up front."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{what} is not valid UTF-8 ({text[:40]!r}); re-encode the input as UTF-8") from None
    return text


def _writable(path: Path, what: str = "--output") -> Path:
    """`path`, once its directory exists (made if needed): a bad output path fails before the work, with
    one line, instead of after it with an OSError (a file where a directory belongs, no permission)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{what} {path}: cannot create its directory ({err.strerror})") from None
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory; give a file name")
    return path


def _texts(texts: list[str] | None) -> list[str]:
    """Texts from the arguments, else one per line of stdin (when it is not a terminal)."""
    if texts:
        return [_utf8(t) for t in texts]
    if sys.stdin is None or sys.stdin.isatty():
        raise UserError("give the text as an argument, or pipe lines on stdin")
    try:
        lines = [line.rstrip("\n") for line in sys.stdin]
    except UnicodeDecodeError:
        raise UserError("stdin is not valid UTF-8; re-encode the input as UTF-8") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise UserError("stdin had no non-empty lines to process")
    return lines


# ------------------------------------------------------------------------------------------------ main


def _register() -> None:
    """Import the command modules; each adds its verbs to `app` (one module per task family)."""
    import importlib
    import pkgutil

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"attnlab.cli.{module}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    _register()

    def err_line(text: str) -> None:  # plain print: rich would wrap a long message over several lines
        print(text, file=sys.stderr, flush=True)

    try:
        app(args=argv, standalone_mode=False)
    except UserError as e:
        err_line(f"error: {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_line("interrupted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:
        # Typer vendors click, so match its exceptions by what they offer rather than by import path.
        if type(e).__name__ == "Abort":
            sys.exit(130)
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            sys.exit(0)
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # usage errors: bad option, missing arg
            err_line(f"error: {' '.join(e.format_message().split())} (see --help)")
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
