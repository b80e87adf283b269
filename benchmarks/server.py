"""HTTP server benchmark: `newsbot serve` on loopback under concurrent OpenAI-style clients.

Run (timed, so under the lock): flock /work/bench.lock .venv/bin/python benchmarks/server.py
    [--provider extractive|local] [--clients 50] [--seconds 20] [--no-cache] [--deadline 180]

Starts `newsbot serve` as its own process (so its RSS is its own) on a free loopback port over a
scratch index of corpus/ built with the configured embedder (the bundled one by default), waits
for /healthz, warms it with every question once, then:
- extractive: ``--clients`` clients each post the questions of shared/eval (every turn, in turn) to
  /v1/chat/completions for ``--seconds``; prints p50/p95/p99 latency, answers/s, errors. With the
  kept answers on (the default, as served), a repeated question is answered from them; ``--no-cache``
  measures every answer written anew.
- local (the bundled model): ``--clients`` clients each ask one question at once; every request must
  end, answered (200) or refused with 503 + Retry-After, within ``--deadline`` s; prints how many of
  each, the answered ones' latency, and any that hung.
Also the server's RSS (now and peak). Asserts nothing; exits 1 when the targets of issue #21 are missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"


def questions(path: Path) -> list[str]:
    asked = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            asked.extend(json.loads(line)["turns"])
    return asked


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak, in MB (Linux /proc)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def start_server(args: argparse.Namespace, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSBOT_LLM__PROVIDER": args.provider,
        "NEWSBOT_INDEX__CORPUS_DIR": str(ROOT / "corpus"),
        "NEWSBOT_INDEX__DATA_DIR": str(data),
        "NEWSBOT_SERVER__PORT": str(port),
        "NEWSBOT_SERVER__RATE_LIMIT": "0",  # every client comes from 127.0.0.1: one bucket
    }
    if args.no_cache:
        env["NEWSBOT_SERVER__ANSWER_CACHE_SIZE"] = "0"
    command = [sys.executable, "-m", "bot.cli", "serve"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


async def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base) as http:
        while time.perf_counter() - started < timeout:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}")
            try:
                if (await http.get("/healthz", timeout=10)).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"the server was not healthy within {timeout:g} s")


def request(question: str) -> dict[str, object]:
    return {"model": "newsbot", "messages": [{"role": "user", "content": question}]}


async def extractive_load(base: str, asked: list[str], args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + args.seconds
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        turn = number
        while time.perf_counter() < stop:
            question = asked[turn % len(asked)]
            turn += args.clients
            sent = time.perf_counter()
            try:
                response = await http.post("/v1/chat/completions", json=request(question))
                ok = (
                    response.status_code == 200
                    and "[1]" in response.json()["choices"][0]["message"]["content"]
                )
                refused = response.status_code == 200 and response.json()["newsbot"]["refused"]
                if ok or refused:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(n, http) for n in range(args.clients)))
    elapsed = time.perf_counter() - started
    return {
        "answers": len(latencies),
        "answers_per_s": round(len(latencies) / elapsed, 1),
        "p50_s": round(percentile(latencies, 0.50), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
        "errors": errors,
    }


async def local_load(base: str, asked: list[str], args: argparse.Namespace) -> dict[str, object]:
    answered: list[float] = []
    busy: list[float] = []
    other: dict[str, int] = {}
    hung = 0

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal hung
        sent = time.perf_counter()
        try:
            response = await http.post("/v1/chat/completions", json=request(asked[number % len(asked)]))
        except httpx.TimeoutException:
            hung += 1
            return
        seconds = time.perf_counter() - sent
        if response.status_code == 200:
            answered.append(seconds)
        elif response.status_code == 503 and int(response.headers.get("Retry-After", "0")) >= 1:
            busy.append(seconds)
        else:
            other[str(response.status_code)] = other.get(str(response.status_code), 0) + 1

    async with httpx.AsyncClient(base_url=base, timeout=args.deadline) as http:
        await asyncio.gather(*(client(n, http) for n in range(args.clients)))
    return {
        "answered": len(answered),
        "busy_503_with_retry_after": len(busy),
        "busy_refused_within_s": round(max(busy), 3) if busy else None,
        "answered_p50_s": round(statistics.median(answered), 1) if answered else None,
        "answered_max_s": round(max(answered), 1) if answered else None,
        "hung": hung,
        "other": other,
    }


async def run(args: argparse.Namespace) -> int:
    asked = questions(Path(args.questions))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as scratch:
        server = start_server(args, args.data_dir or Path(scratch), port)
        try:
            ready = await wait_healthy(base, server, args.startup_timeout)
            idle = rss_mb(server.pid)
            if args.provider != "local":  # warm: every question once (the sentence cache, kept answers)
                async with httpx.AsyncClient(base_url=base, timeout=300) as http:
                    await asyncio.gather(*(http.post("/v1/chat/completions", json=request(q)) for q in asked))
            load = await (local_load if args.provider == "local" else extractive_load)(base, asked, args)
            now, peak = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    figures = {
        "provider": args.provider,
        "clients": args.clients,
        "kept_answers": not args.no_cache,
        "distinct_questions": len(set(asked)),
        "ready_s": round(ready, 1),
        **load,
        "rss_idle_mb": round(idle[0]),
        "rss_mb": round(now),
        "rss_peak_mb": round(peak),
        "load_average_1m": round(os.getloadavg()[0], 1),  # other work on the machine skews every figure
    }
    print(json.dumps(figures, ensure_ascii=False))
    if args.provider == "local":
        met = load["hung"] == 0 and not load["other"]
    else:
        met = (
            not load["errors"]
            and float(str(load["p99_s"])) <= 1.5
            and float(str(load["answers_per_s"])) >= 30
        )
    print("targets met" if met else "targets missed", file=sys.stderr)
    return 0 if met else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", choices=["extractive", "local"], default="extractive")
    parser.add_argument("--clients", type=int, help="concurrent clients (default: 50 extractive, 20 local)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the extractive run")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds a local request may take")
    parser.add_argument("--no-cache", action="store_true", help="no kept answers: every answer written anew")
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the scratch index and sentence cache here between runs (default: temporary)",
    )
    args = parser.parse_args()
    args.clients = args.clients or (20 if args.provider == "local" else 50)
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
