"""The best-of-N study: does Stackelberg shaping pick better answers on real candidates?

Data: RewardBench's best-of-N set (``reward-bench-bon``): AlpacaEval prompts × 16 samples of one
policy, with a gold judge preference ``gold_preference_vs_reference[i]`` (1..2, higher = sample i
beats the reference answer) for samples 0–10. The samples are draws of the policy, so the base
weights of the candidates are uniform.

For each prompt, N candidates with gold labels are drawn (``repeats`` random subsets, seeded),
the reward model scores them (``r_U``: the ensemble's mean rule), and soft best-of-N with strength
``β`` picks a candidate with probability ``∝ exp(r/β)``. The expected gold preference of that pick
is compared between the raw reward and the shaped one, per prompt: a *win* if shaping raises it by
more than ``tie_tol``, a *tie* within ``tie_tol``, a *loss* otherwise. The win-tie rate is the
paper's metric; win, tie and loss are all reported, with Wilson intervals, and the mean difference
with a bootstrap interval over prompts. Hard best-of-N (argmax) is unaffected by any
within-prompt monotone shaping, so it is reported once, as a reference, with the random-pick and
oracle golds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.errors import invalid
from rewardlab.models.evaluate import wilson_interval
from rewardlab.shaping import SHAPINGS, best_of_n, shape_rewards, tilted_expectation


def _bootstrap_mean_ci(x: np.ndarray, rng: np.random.Generator, reps: int = 2000) -> tuple[float, float]:
    idx = rng.integers(0, len(x), size=(reps, len(x)))
    means = x[idx].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def bon_experiment(
    scores: np.ndarray,
    gold: np.ndarray,
    *,
    shaping: str = "stackelberg",
    betas: Sequence[float] = (0.1, 0.3, 1.0),
    ns: Sequence[int] = (4, 11),
    B: float = 15.0,
    b_over_beta: float | None = None,
    exponent_cap: float | None = 2.0,
    range_factor: float | None = 2.0,
    alpha: float = 1.0,
    repeats: int = 5,
    tie_tol: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Shaped vs unshaped soft best-of-N over subsets of N candidates per prompt (see module doc).

    The defaults are the paper's CD code (``B = 15`` clipped to twice each prompt's reward range,
    ``B/β`` capped at 2 inside ``F``, ``α = 1``); ``b_over_beta`` instead sets ``B = b_over_beta·β``
    (the theory's form; pass ``exponent_cap=None, range_factor=None`` for no caps)."""
    if shaping not in SHAPINGS:
        raise invalid("shaping", f"expected one of {', '.join(SHAPINGS)}, got {shaping!r}")
    if scores.shape != gold.shape or scores.ndim != 2:
        raise invalid("scores", f"must be [prompts, candidates] like gold {gold.shape}, got {scores.shape}")
    for beta in betas:
        if not beta > 0:
            raise invalid("beta", f"must be positive, got {beta}")
    for n in ns:
        if not 2 <= n <= gold.shape[1]:
            raise invalid("n", f"must be in [2, {gold.shape[1]}], got {n}")
    if b_over_beta is not None and not b_over_beta > 0:
        raise invalid("b_over_beta", f"must be positive, got {b_over_beta}")
    if repeats < 1:
        raise invalid("repeats", f"must be at least 1, got {repeats}")
    rng = np.random.default_rng(seed)
    p = gold.shape[0]
    rows = []
    for n in ns:
        subsets = [np.argsort(rng.random((p, gold.shape[1])), axis=1)[:, :n] for _ in range(repeats)]
        r_sub = [np.take_along_axis(scores, s, 1) for s in subsets]
        g_sub = [np.take_along_axis(gold, s, 1) for s in subsets]
        hard = np.mean([np.take_along_axis(g, best_of_n(r)[:, None], 1)[:, 0] for r, g in zip(r_sub, g_sub)], axis=0)
        random_pick = np.mean([g.mean(1) for g in g_sub], axis=0)
        oracle = np.mean([g.max(1) for g in g_sub], axis=0)
        for beta in betas:
            raw = np.mean([tilted_expectation(r, g, beta=beta) for r, g in zip(r_sub, g_sub)], axis=0)
            shaped = np.mean(
                [
                    tilted_expectation(
                        shape_rewards(
                            r, method=shaping, beta=beta, B=b_over_beta * beta if b_over_beta else B, alpha=alpha,
                            exponent_cap=exponent_cap, range_factor=range_factor,
                        ),
                        g,
                        beta=beta,
                    )
                    for r, g in zip(r_sub, g_sub)
                ],
                axis=0,
            )
            diff = shaped - raw
            win, tie = int((diff > tie_tol).sum()), int((np.abs(diff) <= tie_tol).sum())
            rows.append(
                {
                    "n": n,
                    "beta": beta,
                    "prompts": p,
                    "win": win,
                    "tie": tie,
                    "loss": p - win - tie,
                    "win_tie_rate": (win + tie) / p,
                    "win_tie_ci95": list(wilson_interval(win + tie, p)),
                    "win_rate_ci95": list(wilson_interval(win, p)),
                    "gold_raw": float(raw.mean()),
                    "gold_shaped": float(shaped.mean()),
                    "gold_diff": float(diff.mean()),
                    "gold_diff_ci95": list(_bootstrap_mean_ci(diff, rng)),
                    "gold_hard_bon": float(hard.mean()),
                    "gold_random": float(random_pick.mean()),
                    "gold_oracle": float(oracle.mean()),
                }
            )
    return {
        "shaping": shaping,
        "B": None if b_over_beta else B,
        "b_over_beta": b_over_beta,
        "exponent_cap": exponent_cap,
        "range_factor": range_factor,
        "alpha": alpha,
        "repeats": repeats,
        "tie_tol": tie_tol,
        "rows": rows,
    }
