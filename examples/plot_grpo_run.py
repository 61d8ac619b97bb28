"""The curves of a ``grpo_with_rewardlab.py`` run: rewards, the teacher diagnostic and entropy per
step, with a moving average (each step sees 4 new prompts, so single steps are noisy).

    python examples/plot_grpo_run.py RUN_DIR [--window 8]     # writes RUN_DIR/curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SERIES = (  # (log key, label, panel)
    ("rewards/rewardlab/mean", "trained-on reward (MiniLM ensemble)", 0),
    ("rewards/gold/mean", "proxy gold (e5 model, disjoint pairs)", 0),
    ("rewardlab/group_variance", "within-group reward variance", 1),
    ("rewardlab/member_std", "ensemble member std", 1),
    ("entropy", "policy entropy (nats/token)", 2),
)


def moving(values: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        out[i] = values[max(0, i - window + 1):i + 1].mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--window", type=int, default=8)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (args.run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if "rewards/rewardlab/mean" in r]
    steps = np.array([r["step"] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key, label, panel in SERIES:
        y = np.array([r[key] for r in rows], float)
        line, = axes[panel].plot(steps, moving(y, args.window), label=label)
        axes[panel].plot(steps, y, alpha=0.25, color=line.get_color(), linewidth=0.8)
    for ax, title in zip(axes, ("reward per step", "teacher diagnostics", "policy")):
        ax.set_xlabel("GRPO step")
        ax.set_title(f"{title} (thin: per step; thick: mean of {args.window})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.run / "curves.png", dpi=90)
    print(args.run / "curves.png")


if __name__ == "__main__":
    main()
