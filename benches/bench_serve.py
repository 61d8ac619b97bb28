"""Load on ``rewardlab serve`` over loopback, as OpenRLHF sends it: one query per request.

Per concurrency (1, 8, 64 clients, each sending its next request when the last is answered):
items/s, p50/p99 latency and the mean batch size (from the server's /metrics), for
- ``batched``: ``rewardlab serve`` with dynamic batching (``--max-batch 64 --max-wait-ms 2``);
- ``unbatched``: the same server with ``--max-batch 1 --max-wait-ms 0``: one model call per
  request, what OpenRLHF's own ``serve_rm.py`` does;
- ``offline``: the same texts scored in-process in batches of 64 (no HTTP): the ceiling;
- ``http``: ``GET /health`` at the same concurrency: what the HTTP stack alone costs.
Every text is distinct and the servers run with ``--no-cache`` (rollout texts never repeat), so
each request really embeds. The model is a MiniLM ensemble trained here on bundled HH-RLHF pairs
(or ``--model DIR``; ``--embedder hash`` trains one whose model costs next to nothing per item,
so that what batching saves per call shows). The load generator is an aiohttp client in this
process.

``--soak SECONDS`` instead runs mixed good and bad requests (bad JSON, wrong fields, a query that
does not start with its prompt, oversized bodies, disconnects) against one server, and reports
requests by answer, and the server's memory (RSS) over time.

    python benches/bench_serve.py [--model DIR] [--requests N] [--json FILE]
    python benches/bench_serve.py --soak 600
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))
from servers import request, start  # noqa: E402  (the tests' own server starter)

from rewardlab import datasets  # noqa: E402
from rewardlab.data.formats import load_pairs  # noqa: E402


def texts(n: int) -> list[tuple[str, str]]:
    """``n`` distinct (prompt, response) pairs from the bundled HH-RLHF file."""
    pairs, _ = load_pairs(datasets.path(datasets.HH))
    out = [(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)]
    if len(out) < n:
        raise SystemExit(f"only {len(out)} texts available")
    return out[:n]


def train_model(folder: Path, embedder: str) -> Path:
    """A 5-member ensemble on 600 HH pairs (the demo's recipe, smaller)."""
    data = folder / "hh.jsonl"
    with gzip.open(datasets.path(datasets.HH), "rt", encoding="utf-8") as fh:
        data.write_text("".join(next(fh) for _ in range(600)), encoding="utf-8")
    out = folder / "rm"
    subprocess.run([sys.executable, "-m", "rewardlab.cli", "train", "--data", str(data), "--out", str(out),
                    "--embedder", embedder, "--members", "5", "--quiet", "--json"], check=True, stdout=subprocess.DEVNULL)
    return out


async def load(url: str, bodies: list[bytes], concurrency: int, path: str = "/get_reward") -> dict:
    """Sends every body once from ``concurrency`` clients; latencies in ms."""
    import aiohttp

    todo = iter(bodies)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def client(session):
        for body in todo:
            t = time.perf_counter()
            if path == "/health":
                async with session.get(url + path) as resp:
                    await resp.read()
            else:
                async with session.post(url + path, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()
            latencies.append((time.perf_counter() - t) * 1000)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    lat = np.array(latencies)
    return {"items_per_s": len(bodies) / seconds, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "statuses": statuses, "requests": len(bodies)}


def one_query(prompt: str, response: str) -> bytes:
    return json.dumps({"query": [prompt + response], "prompts": [prompt], "labels": [None]}).encode()


def run_server(model: Path, name: str, args: list[str], pool: list[tuple[str, str]], levels: dict[int, int]) -> list[dict]:
    rows = []
    s = start(model, "--no-cache", *args)
    try:
        asyncio.run(load(s.url, [one_query(*pool[i]) for i in range(16)], 4))  # warm up
        used = 16
        for c, n in levels.items():
            before_sum, before_count = _batch_totals(s.url)
            r = asyncio.run(load(s.url, [one_query(*t) for t in pool[used : used + n]], c))
            used += n
            after_sum, after_count = _batch_totals(s.url)
            r.update(config=name, concurrency=c, mean_batch=(after_sum - before_sum) / max(after_count - before_count, 1))
            if c == max(levels):
                h = asyncio.run(load(s.url, [b""] * (4 * n), c, "/health"))
                rows.append({"config": "http (GET /health)", "concurrency": c, **h, "mean_batch": float("nan")})
                print(f"  {'GET /health':<10} c={c:<3} {h['items_per_s']:8.1f} requests/s  p50 {h['p50_ms']:7.1f} ms  "
                      f"p99 {h['p99_ms']:7.1f} ms  (the HTTP stack alone)", flush=True)
            rows.append(r)
            print(f"  {name:<10} c={c:<3} {r['items_per_s']:8.1f} items/s  p50 {r['p50_ms']:7.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  mean batch {r['mean_batch']:5.1f}  {r['statuses']}", flush=True)
    finally:
        s.stop()
    return rows


def _batch_totals(url: str) -> tuple[float, float]:
    from prometheus_client.parser import text_string_to_metric_families

    _, text, _ = request(url, "/metrics")
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    return samples["rewardlab_batch_items_sum"], samples["rewardlab_batch_items_count"]


def offline(model: Path, pool: list[tuple[str, str]], n: int) -> dict:
    from rewardlab.serve import RewardScorer

    scorer = RewardScorer.load(model, cache_dir=False, batch_size=64)
    scorer.score([p for p, _ in pool[:64]], [r for _, r in pool[:64]])  # warm up
    part = pool[-n:]
    t = time.perf_counter()
    for i in range(0, n, 64):
        chunk = part[i : i + 64]
        scorer.score([p for p, _ in chunk], [r for _, r in chunk])
    return {"config": "offline", "concurrency": "-", "items_per_s": n / (time.perf_counter() - t), "mean_batch": 64.0}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def soak(model: Path, seconds: float, pool: list[tuple[str, str]]) -> dict:
    """Mixed good and bad requests from 8 clients for ``seconds``."""
    import aiohttp

    s = start(model, "--no-cache", "--max-body-mb", "1")
    counts: dict[str, int] = {}
    rng = random.Random(0)
    bad = [
        ("bad json", b"{nope"), ("not utf-8", b'{"query": ["\xff"], "prompts": [""]}'),
        ("wrong field", b'{"query": [1], "prompts": ["a"]}'), ("prompt mismatch", b'{"query": ["ab"], "prompts": ["x"]}'),
        ("oversized", b'{"query": ["' + b"z" * (2 << 20) + b'"], "prompts": [""]}'),
    ]

    async def client(session, deadline):
        while time.perf_counter() < deadline:
            roll = rng.random()
            if roll < 0.8:
                kind, body = "good", one_query(*pool[rng.randrange(len(pool))])
            elif roll < 0.97:
                kind, body = bad[rng.randrange(len(bad))]
            else:  # a client that gives up mid-request
                kind = "disconnect"
                try:
                    async with session.post(s.url + "/get_reward", data=one_query(*pool[0]), timeout=aiohttp.ClientTimeout(total=0.001)):
                        pass
                except (asyncio.TimeoutError, aiohttp.ClientError):
                    pass
                counts[kind] = counts.get(kind, 0) + 1
                continue
            async with session.post(s.url + "/get_reward", data=body) as resp:
                await resp.read()
                key = f"{kind} -> {resp.status}"
                counts[key] = counts.get(key, 0) + 1

    rss: list[tuple[float, float]] = []

    async def sample(deadline):
        t0 = time.perf_counter()
        while time.perf_counter() < deadline:
            rss.append((round(time.perf_counter() - t0), rss_mb(s.proc.pid)))
            await asyncio.sleep(min(30.0, seconds / 10))

    async def go():
        async with aiohttp.ClientSession() as session:
            deadline = time.perf_counter() + seconds
            await asyncio.gather(sample(deadline), *(client(session, deadline) for _ in range(8)))

    try:
        start_rss = rss_mb(s.proc.pid)
        asyncio.run(go())
        mid_rss = rss_mb(s.proc.pid)
        status, body, _ = request(s.url, "/get_reward", json.loads(one_query(*pool[1])))
        assert status == 200, body
        end = {"rss_start_mb": start_rss, "rss_end_mb": mid_rss, "rss_mb_over_time": rss, "answers": counts,
               "seconds": seconds, "requests": sum(counts.values())}
    finally:
        s.stop()
    return end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="a rewardlab model folder (default: train a MiniLM ensemble)")
    ap.add_argument("--embedder", default="minilm",
                    help="the trained model's embedder (default minilm; hash: a model that costs next to nothing per item)")
    ap.add_argument("--requests", type=int, default=800, help="requests at concurrency 64 (fewer at 1 and 8)")
    ap.add_argument("--soak", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args()
    os.environ.setdefault("REWARDLAB_CACHE", tempfile.mkdtemp(prefix="bench-serve-"))
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or train_model(Path(tmp), args.embedder)
        n = args.requests
        levels = {1: max(n // 8, 16), 8: max(n // 2, 32), 64: n}
        pool = texts(16 + sum(levels.values()) + 64)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model {model}", flush=True)
        if args.soak:
            result = soak(model, args.soak, pool)
            print(json.dumps(result, indent=1))
            if args.json:
                Path(args.json).write_text(json.dumps(result, indent=1))
            return
        rows = run_server(model, "batched", ["--max-batch", "64", "--max-wait-ms", "2"], pool, levels)
        rows += run_server(model, "unbatched", ["--max-batch", "1", "--max-wait-ms", "0"], pool, levels)
        off = offline(model, pool, levels[64])
        rows.append(off)
        print(f"  offline    {off['items_per_s']:8.1f} items/s (batches of 64, no HTTP)")
    by = {(r["config"], r["concurrency"]): r for r in rows}
    b64, u64 = by[("batched", 64)]["items_per_s"], by[("unbatched", 64)]["items_per_s"]
    print(f"\nc=64: batched / unbatched = {b64 / u64:.2f}x   batched / offline = {b64 / off['items_per_s']:.0%}")
    print(f"c=8: batched p99 = {by[('batched', 8)]['p99_ms']:.0f} ms   (targets: >= 5x, >= 70%, < 250 ms)")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.platform(), "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
