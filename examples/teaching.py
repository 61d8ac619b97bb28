"""Razin et al.'s optimisation experiment on a tabular softmax policy: a perfectly accurate but
low-variance reward teaches slower than a less accurate, high-variance one.

    python examples/teaching.py [--plot curves.png]
"""

from __future__ import annotations

import argparse

from rewardlab.studies.demo.alignment import GAINS, teaching_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--plot", default=None, metavar="PNG", help="write the E[r_G] curves to this file")
    args = ap.parse_args()
    result = teaching_experiment(args.steps)
    print(f"{'proxy':<30}{'acc off/on':>12}{'var(pi0)':>10}  steps to gain " + " / ".join(map(str, GAINS)))
    for name, p in result["proxies"].items():
        steps = " / ".join(str(s) for s in p["steps_to_gain"].values())
        print(f"{name:<30}{p['accuracy_off_policy']:>6.2f}/{p['accuracy_on_policy']:<5.2f}{p['variance_under_initial_policy']:>10.5f}  {steps}")
    print("accurate/low-variance needs " + ", ".join(f"{v:.1f}x" for v in result["time_ratio_low_over_high_variance"].values())
          + " the steps of the less accurate, high-variance proxy")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        x = np.unique(np.geomspace(1, args.steps + 1, 120).astype(int))
        fig, ax = plt.subplots(figsize=(6, 3.4))
        for name, p in result["proxies"].items():
            ax.plot(x, p["curve"], label=name)
        ax.set_xscale("log")
        ax.set_xlabel("policy-gradient step + 1")
        ax.set_ylabel("E_pi[r_G]")
        ax.legend(fontsize=7)
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
