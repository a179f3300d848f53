"""`attnlab train --nproc N`: re-run the same command under torchrun on this machine.

torchrun (torch.distributed.run) starts N processes with RANK / WORLD_SIZE / LOCAL_RANK set and a local
rendezvous; each process then runs `attnlab train ...` and joins the process group in
train/distributed.py. For several machines, call torchrun yourself (see the README).
"""

from __future__ import annotations

import subprocess
import sys


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out


def relaunch_with_torchrun(nproc: int, argv: list[str] | None = None) -> int:
    args = _without_nproc(list(sys.argv[1:] if argv is None else argv))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "attnlab",
        *args,
    ]
    return subprocess.call(cmd)
