"""Shared fixtures. Tests read small slices of the real datasets or tiny fixtures written here."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    env = os.environ.get("ATTNLAB_DATA")
    if env:
        return Path(env)
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared datasets. Missing data is a failure, not a skip: CI always has ../shared beside it."""
    root = _data_root()
    assert root is not None and root.is_dir(), "set ATTNLAB_DATA to the shared datasets (../shared/data)"
    return root


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


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
