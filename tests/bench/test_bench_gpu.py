"""bench/bench_gpu.sh on its CPU path (CI has no GPU): both recipes train, and the table reports them."""

import os
import re
import subprocess

from tests.conftest import REPO


def test_bench_gpu_runs_its_cpu_rows_and_prints_one_table(tmp_path, data_root):
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1",
           "ATTNLAB": str(REPO / ".venv/bin/attnlab"), "PY": str(REPO / ".venv/bin/python"),
           "ATTNLAB_CACHE": str(tmp_path / "cache")}  # fmt: skip
    proc = subprocess.run(
        ["bash", str(REPO / "bench" / "bench_gpu.sh"), "--cpu-only", "--minutes", "0.2", "--out",
         str(tmp_path / "runs"), "--set", "train.max_steps=2", "--set", "data.limit=2000",
         "--set", "data.subword_vocab=1000"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    rows = [line for line in proc.stdout.splitlines() if re.match(r"\| translate-", line)]
    assert [r.split("|")[1].strip() for r in rows] == [
        "translate-multi30k-de-en-transformer",
        "translate-spa-eng-bahdanau",
    ]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1].startswith("cpu ") and cells[1].split()[1] in ("fp32", "bf16")
        assert int(cells[2]) == 2 and float(cells[4].replace(",", "")) > 0 and 0 < float(cells[5]) < 20
    assert "machine: " in proc.stdout and "GPU:" in proc.stdout
