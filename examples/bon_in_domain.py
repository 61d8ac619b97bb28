"""Shaped vs raw soft best-of-N with an *in-domain* reward model on reward-bench-bon.

The demo's model is trained on HH-RLHF/OASST and has no signal on AlpacaEval candidates, so its
shaped-vs-raw comparison is between two near-random pickers. Here the reward model is trained on
the gold judge preferences of the second half of the prompts (pairs of labelled samples whose gold
preferences differ by more than ``--min-gap``), and the best-of-N experiment runs on the first
half, whose prompts it never saw.

    python examples/bon_in_domain.py --out /tmp/bon-in-domain [--json]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
from pathlib import Path

from rewardlab.cli import main as cli
from rewardlab.studies.demo.run import find_data_dir


def write_gold_pairs(src: Path, dst: Path, first: int, min_gap: float, per_prompt: int, seed: int) -> int:
    rng = random.Random(seed)
    n = 0
    with gzip.open(src, "rt", encoding="utf-8") as fh, dst.open("w", encoding="utf-8") as out:
        for i, line in enumerate(fh):
            if i < first:
                continue
            row = json.loads(line)
            labelled = [(o, g) for o, g in zip(row["outputs"], row["gold_preference_vs_reference"]) if g is not None]
            pairs = [(a, b) if a[1] > b[1] else (b, a) for a, b in itertools.combinations(labelled, 2) if abs(a[1] - b[1]) > min_gap]
            for (chosen, _), (rejected, _) in rng.sample(pairs, min(per_prompt, len(pairs))):
                if chosen != rejected:
                    out.write(json.dumps({"prompt": row["instruction"], "chosen": chosen, "rejected": rejected}) + "\n")
                    n += 1
    return n


def run() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bon-in-domain", help="folder for the pairs and the model")
    ap.add_argument("--held-out", type=int, default=402, help="the first H prompts are the best-of-N test set")
    ap.add_argument("--min-gap", type=float, default=0.05, help="smallest gold preference gap of a training pair")
    ap.add_argument("--per-prompt", type=int, default=12, help="training pairs per prompt at most")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    src = find_data_dir() / "reward-bench-bon" / "alpaca_eval_tulu2_dpo_13b_n16.jsonl.gz"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = out / "gold-pairs.jsonl"
    print(f"{write_gold_pairs(src, pairs, args.held_out, args.min_gap, args.per_prompt, 0)} training pairs", flush=True)
    if code := cli(["train", "--data", str(pairs), "--out", str(out / "model"), "--quiet", "--test", "0"]):
        return code
    extra = ["--json"] if args.json else []
    return cli(["bon", "--model", str(out / "model"), "--data", str(src), "--limit", str(args.held_out), "--quiet", *extra])


if __name__ == "__main__":
    raise SystemExit(run())
