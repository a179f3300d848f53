"""Helpers for driving the real `attnlab` command in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(data_root, tmp_path):
    """Run `python -m attnlab ARGS` with the shared data and one torch thread; returns CompletedProcess."""

    def run(*args, input=None, timeout=300, env=None):
        full_env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "attnlab", *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
            env=full_env,
        )

    return run


def assert_user_error(proc, *fragments):
    """Exit code 2, exactly one line on stderr starting with 'error:', no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
