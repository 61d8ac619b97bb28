"""The Ray Data executor's overhead against embedding in this process, in one run.

Embeds the same bundled HH-RLHF texts (no cache) with MiniLM three ways:
- in this process (``embed_texts``, token-budget batches, torch's intra-op threads);
- on a local Ray instance with 1 actor, and with 2 actors of 1 CPU each (``RayExecutor``).
Prints texts/s and each Ray run's ratio to in-process, with the fixed cost (Ray start, actor
start and model load per actor) measured apart from the streaming time. On a 2-core machine Ray
cannot be faster: it pays for the start-up and splits the same two cores. The number that
matters for a cluster is the per-actor throughput against in-process per core.

    python benches/bench_ray.py [--texts N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def hh_texts(n: int) -> list[str]:
    from rewardlab import datasets
    from rewardlab.data.pairs import dialogue_text
    from rewardlab.data import load_pairs

    path = datasets.path(datasets.HH)
    pairs, _ = load_pairs(path)
    texts = [t for p in pairs for t in (dialogue_text(p.prompt, p.chosen), dialogue_text(p.prompt, p.rejected))]
    return texts[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import ray
    import torch

    from rewardlab.embed import embed_texts, get_embedder
    from rewardlab.embed.executors import RayExecutor

    texts = hh_texts(args.texts)
    embedder = get_embedder("minilm", device="cpu", dtype="float32")
    embed_texts(embedder, texts[:64], cache_dir=False)  # warm
    t = time.perf_counter()
    here = embed_texts(embedder, texts, cache_dir=False)
    in_process = time.perf_counter() - t
    rows = {"in-process": {"seconds": in_process, "texts_per_s": len(texts) / in_process, "threads": torch.get_num_threads()}}

    t = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    for workers in (1, 2):
        ex = RayExecutor(workers=workers, num_cpus=1, rows_per_batch=128)
        t = time.perf_counter()
        embed_texts(embedder, texts[:8], cache_dir=False, executor=ex)  # actor start + model load
        warm = time.perf_counter() - t
        t = time.perf_counter()
        there = embed_texts(embedder, texts, cache_dir=False, executor=ex)
        secs = time.perf_counter() - t
        np.testing.assert_allclose(there, here, rtol=1e-4, atol=1e-5)
        rows[f"ray-{workers}"] = {"seconds": secs, "texts_per_s": len(texts) / secs, "startup_s": warm,
                                  "ratio_to_in_process": in_process / secs}
    ray.shutdown()
    print(f"MiniLM, {len(texts)} HH texts, {platform.machine()} {os.cpu_count()} cores; Ray start {ray_start:.1f} s")
    for name, r in rows.items():
        extra = f"  start-up {r['startup_s']:.1f} s  speed vs in-process {r['ratio_to_in_process']:.2f}x" if "startup_s" in r else ""
        print(f"  {name:<11} {r['texts_per_s']:7.1f} texts/s  ({r['seconds']:.1f} s){extra}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"texts": len(texts), "ray_start_s": ray_start, "cores": os.cpu_count(), "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
