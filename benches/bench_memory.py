"""Peak memory of the data path against data size: `rewardlab train | eval | score` on synthetic
pairwise files of 20k, 200k and 2M pairs, with the `hash` embedder (1024-d), each command in its
own process, peak RSS read from that process's rusage.

What should hold: `score` and `eval` stream (read, embed, score a chunk of 2048 pairs at a time),
so their peak stays flat as the file grows (eval also keeps K member scores per pair: 40 bytes).
`train` must hold the features it trains on (2 x N x D float32: 1.6 GB at 200k pairs with the
1024-d hash embedder); everything else streams, so its peak is the features plus a constant.
Train at 2M pairs would need 16 GB of features alone and is not run.

    python benches/bench_memory.py [--sizes 20000,200000,2000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the a reply helpful harmful polite rude answer question safe unsafe detail vague kind "
         "clear wrong right maybe never always please sorry thanks yes no").split()


def write_pairs(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            prompt = f"question {i}: " + " ".join(rng.choices(WORDS, k=8))
            chosen = "helpful polite " + " ".join(rng.choices(WORDS, k=12))
            rejected = "rude vague " + " ".join(rng.choices(WORDS, k=12))
            fh.write(json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n")


def peak_rss(argv: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, exit code) of one command, from its own rusage."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(proc.stderr.read().decode(errors="replace")[-2000:])
    return usage.ru_maxrss / 1024, seconds, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,200000,2000000")
    ap.add_argument("--train-max", type=int, default=200_000, help="largest size that is also trained on")
    ap.add_argument("--keep", default=None, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.keep or tempfile.mkdtemp(prefix="rewardlab-bench-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "rewardlab.cli"]
    model = work / "model"
    rows = []
    try:
        # one small model scores every file (eval/score memory must not depend on the train size)
        write_pairs(work / "train.jsonl", 20_000, seed=1)
        mib, sec, code = peak_rss(exe + ["train", "--data", str(work / "train.jsonl"), "--out", str(model), "--embedder",
                                         "hash", "--members", "5", "--epochs", "5", "--quiet", "--no-cache"])
        assert code == 0, "training the scoring model failed"
        for n in sizes:
            data = work / f"pairs-{n}.jsonl"
            write_pairs(data, n, seed=2)
            mb = data.stat().st_size / 2**20
            jobs = {
                "score": ["score", "--model", str(model), "--data", str(data), "--out", str(work / "s.jsonl")],
                "eval": ["eval", "--model", str(model), "--data", str(data), "--json"],
            }
            if n <= args.train_max:
                jobs["train"] = ["train", "--data", str(data), "--out", str(work / f"m-{n}"), "--embedder", "hash",
                                 "--members", "2", "--epochs", "2"]
            for name, argv in jobs.items():
                mib, sec, code = peak_rss(exe + argv + ["--quiet", "--no-cache"])
                rows.append({"pairs": n, "file_mib": round(mb, 1), "command": name, "peak_rss_mib": round(mib),
                             "seconds": round(sec, 1), "ok": code == 0})
                print(f"{n:>9} pairs ({mb:7.1f} MiB file)  {name:<6} peak RSS {mib:8.0f} MiB  {sec:7.1f} s"
                      f"{'' if code == 0 else '  FAILED'}", flush=True)
            data.unlink()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"machine": os.uname().machine, "cpus": os.cpu_count(), "rows": rows}))


if __name__ == "__main__":
    main()
