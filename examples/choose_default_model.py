"""Which reward model should `rewardlab train` build by default? Chosen on one split, reported once
on another.

    python examples/choose_default_model.py --out examples/results/default-model [--candidates ...]

The bundled HH-RLHF harmless pairs are split by prompt (salt "default-model"): **test** 20%
(opened once, for the chosen candidate and the current default), **select** 20% (what the
candidates are compared on), and the rest for training, of which 10% of prompts are the early-
stopping dev split as `rewardlab train` uses it. Every candidate trains a 5-member ensemble with
the same seeds and is scored by its mean. On the select split it gets its pairwise accuracy and its
paired, prompt-clustered difference to "shorter response wins", the stronger length baseline on
HH harmless. The candidate with the highest lower bound of that difference is chosen (a default
must be clearly above length, not only accurate on average). Then the chosen candidate and the
current default are evaluated on the test split, with their paired difference.

Writes ``selection.json`` to ``--out`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

# name: (embedders, text context, hidden widths)
CANDIDATES = {
    "minilm": (["minilm"], "last_turn", (256,)),
    "minilm-full": (["minilm"], "full", (256,)),
    "minilm-linear": (["minilm"], "last_turn", ()),
    "e5": (["e5"], "last_turn", (256,)),
    "e5-linear": (["e5"], "last_turn", ()),
    "minilm+e5": (["minilm", "e5"], "last_turn", (256,)),
    "hash": (["hash"], "last_turn", (256,)),
    "smollm2": (["lm:smollm2"], "last_turn", (256,)),
    "smollm2-chat": (["lm-chat:smollm2"], "last_turn", (256,)),
}
CURRENT_DEFAULT = "minilm"


def outcomes_of(model, pairs):
    from rewardlab.models.pipeline import pair_outcomes

    return pair_outcomes(model, pairs, progress=False)


def report(name, o, pairs):
    from rewardlab.models.baselines import length_baselines, response_words
    from rewardlab.models.evaluate import wilson_interval

    b = length_baselines(o, [response_words(p.chosen) for p in pairs], [response_words(p.rejected) for p in pairs],
                         [p.group for p in pairs])
    row = {"candidate": name, "pairs": len(o), "accuracy": float(o.mean()), "ci95": list(wilson_interval(float(o.sum()), len(o))),
           "minus_shorter": b["shorter"]["model_minus_baseline"], "minus_shorter_ci95": b["shorter"]["difference_ci95"],
           "minus_longer": b["longer"]["model_minus_baseline"], "minus_longer_ci95": b["longer"]["difference_ci95"],
           "shorter_accuracy": b["shorter"]["accuracy"], "longer_accuracy": b["longer"]["accuracy"]}
    lo, hi = row["minus_shorter_ci95"]
    print(f"  {name:<14} acc {row['accuracy']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]  "
          f"minus shorter {row['minus_shorter']:+.3f} [{lo:+.3f}, {hi:+.3f}]  "
          f"minus longer {row['minus_longer']:+.3f} [{row['minus_longer_ci95'][0]:+.3f}, {row['minus_longer_ci95'][1]:+.3f}]")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated names (default: all)")
    ap.add_argument("--members", type=int, default=5)
    args = ap.parse_args(argv)
    from rewardlab import datasets
    from rewardlab.data import load_pairs, split_by_prompt
    from rewardlab.data.splits import Split
    from rewardlab.models import TrainConfig
    from rewardlab.models.baselines import clustered_mean_interval
    from rewardlab.models.pipeline import train_model

    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        ap.error(f"--candidates: unknown {unknown}; known: {', '.join(CANDIDATES)}")
    pairs, _ = load_pairs(datasets.path(datasets.HH))
    outer = split_by_prompt(pairs, dev=0.2, test=0.2, salt="default-model")  # dev = the select split
    inner = split_by_prompt(outer.train, dev=0.1, test=0.0, salt="default-model-dev")
    select, test = outer.dev, outer.test
    print(f"train {len(inner.train)}, early-stopping dev {len(inner.dev)}, select {len(select)}, test {len(test)} pairs")
    models, rows = {}, []
    print("select split:")
    for name in names:
        embedders, context, hidden = CANDIDATES[name]
        t = time.perf_counter()
        models[name] = train_model(Split(inner.train, inner.dev, []), embedders, TrainConfig(hidden=hidden),
                                   args.members, progress=False, meta={"text_context": context})
        row = report(name, outcomes_of(models[name], select), select)
        row.update(embedders=embedders, context=context, hidden=list(hidden), seconds=round(time.perf_counter() - t, 1))
        rows.append(row)
    chosen = max(rows, key=lambda r: r["minus_shorter_ci95"][0])["candidate"]
    print(f"chosen on the select split: {chosen}; the test split, opened once:")
    final = {}
    outs = {}
    for name in dict.fromkeys([chosen, CURRENT_DEFAULT]):
        if name not in models:
            embedders, context, hidden = CANDIDATES[name]
            models[name] = train_model(Split(inner.train, inner.dev, []), embedders, TrainConfig(hidden=hidden),
                                       args.members, progress=False, meta={"text_context": context})
        outs[name] = outcomes_of(models[name], test)
        final[name] = report(name, outs[name], test)
    if chosen != CURRENT_DEFAULT:
        d, lo, hi = clustered_mean_interval(outs[chosen] - outs[CURRENT_DEFAULT], [p.group for p in test])
        final["chosen_minus_current"] = {"difference": d, "ci95": [lo, hi]}
        print(f"  {chosen} minus {CURRENT_DEFAULT}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "selection.json").write_text(json.dumps(
        {"splits": {"train": len(inner.train), "dev": len(inner.dev), "select": len(select), "test": len(test)},
         "members": args.members, "select": rows, "chosen": chosen, "current_default": CURRENT_DEFAULT, "test": final},
        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
