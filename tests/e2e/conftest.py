"""Helpers for the end-to-end tests (the `cli` fixture itself lives in tests/conftest.py)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def assert_user_error(proc, *fragments):
    """Exit code 2, exactly one line on stderr starting with 'error:', no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
