"""Load test of the attention explorer (not a test): N concurrent clients against `attnlab serve` (loopback only).

    python bench/bench_serve.py [--run RUN ...] [--clients 50] [--seconds 30] [--beam 1]

Starts `python -m attnlab serve RUN --host 127.0.0.1 --port <free>` in a subprocess (one torch thread), waits
for /api/health, then runs `--clients` asyncio + httpx clients that each POST /api/explain in a loop until
`--seconds` have passed (each client stops at the deadline or after --max-requests, so the loop is bounded).
Reports failed requests (anything but 200), latency p50 / p90 / p99, requests/s and the server's RSS before
and after, as a markdown table. Without --run it first trains a tiny spa-eng GRU + Bahdanau run (hidden 32,
20 steps) into a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from attnlab.sysinfo import cpu_model

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "esta es mi vida.",
    "hace mucho frio aqui.",
    "¿todavia estan en casa?",
    "trata de averiguarlo.",
    "tom no sabe nadar.",
    "me gusta el cafe.",
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_tiny(out: Path, env: dict) -> Path:
    sets = [
        "data.limit=1500",
        "model.hidden=32",
        "model.embed_dim=16",
        "train.max_steps=20",
        "data.valid_bleu_sentences=10",
    ]
    cmd = [
        sys.executable,
        "-m",
        "attnlab",
        "train",
        str(REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"),
        "--out",
        str(out),
        *[a for kv in sets for a in ("--set", kv)],
    ]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    return out


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


async def client(
    http: httpx.AsyncClient,
    i: int,
    deadline: float,
    max_requests: int,
    options: dict,
    lat: list[float],
    fails: list[str],
) -> None:
    n = 0
    while time.monotonic() < deadline and n < max_requests:
        body = {"run": 0, "text": SENTENCES[(i + n) % len(SENTENCES)], "options": options}
        t0 = time.perf_counter()
        try:
            r = await http.post("/api/explain", json=body)
            ok = r.status_code == 200 and "attention" in r.json()
            if not ok:
                fails.append(f"{r.status_code} {r.text[:100]}")
        except httpx.HTTPError as e:
            fails.append(type(e).__name__)
            ok = False
        if ok:
            lat.append(time.perf_counter() - t0)
        n += 1


async def load(base: str, clients: int, seconds: float, max_requests: int, options: dict):
    lat: list[float] = []
    fails: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits, trust_env=False) as http:
        deadline = time.monotonic() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *(client(http, i, deadline, max_requests, options, lat, fails) for i in range(clients))
        )
        wall = time.perf_counter() - t0
    return lat, fails, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", type=Path, help="run directory (default: train a tiny one)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=100_000, help="per client, a hard bound")
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--server-threads", type=int, default=1, help="torch threads in the server")
    args = parser.parse_args()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.server_threads),
        "MKL_NUM_THREADS": str(args.server_threads),
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        runs = args.run or [train_tiny(Path(tmp) / "tiny-gru", env)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "attnlab",
                "serve",
                *map(str, runs),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"server exited: {server.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(base + "/api/health", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start within 120 s")
                time.sleep(0.2)
            options = {"beam": args.beam}
            warm = httpx.post(
                base + "/api/explain",
                json={"run": 0, "text": SENTENCES[0], "options": options},
                timeout=60,
                trust_env=False,
            )
            warm.raise_for_status()
            size = len(warm.content)
            rss_before = rss_mib(server.pid)
            lat, fails, wall = asyncio.run(load(base, args.clients, args.seconds, args.max_requests, options))
            rss_after = rss_mib(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    import torch

    ms = [1000 * x for x in lat]
    print(f"# bench_serve — {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); Python {platform.python_version()}, "
        f"torch {torch.__version__}; server torch threads {args.server_threads}, one inference at a time"
    )
    print(
        f"run: {', '.join(str(r) for r in runs) if args.run else 'tiny spa-eng GRU + Bahdanau (hidden 32)'}; "
        f"{args.clients} clients for {args.seconds:g} s, beam {args.beam}, response ≈ {size / 1024:.1f} KiB\n"
    )
    print(
        "| clients | requests ok | failed | req/s | p50 ms | p90 ms | p99 ms | max ms | RSS before MiB | RSS after MiB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    if ms:
        print(
            f"| {args.clients} | {len(ms)} | {len(fails)} | {len(ms) / wall:.1f} | {percentile(ms, 50):.0f} | "
            f"{percentile(ms, 90):.0f} | {percentile(ms, 99):.0f} | {max(ms):.0f} | {rss_before:.0f} | "
            f"{rss_after:.0f} |"
        )
    print(f"\nmean latency {statistics.fmean(ms) if ms else float('nan'):.0f} ms; wall {wall:.1f} s")
    if fails:
        print(f"failures (first 5): {fails[:5]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
