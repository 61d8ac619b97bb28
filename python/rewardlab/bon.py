"""Best-of-N with shaped rewards on real candidates: does Stackelberg shaping pick better answers?

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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab.alignment import best_of_n, tilted_expectation
from rewardlab.data import LoadReport, check_limit, dialogue_text, finish_report, json_rows
from rewardlab.errors import invalid
from rewardlab.evaluate import wilson_interval
from rewardlab.shaping import SHAPINGS, shape_rewards


@dataclass
class BonSet:
    prompts: list[str]
    candidates: list[list[str]]  # [P][N] with N = the labelled candidates
    gold: np.ndarray  # [P, N]
    report: LoadReport
    samples: list[list[str]] = field(default_factory=list)  # [P][*]: every sample, labelled or not
    labelled_at: list[list[int]] = field(default_factory=list)  # [P][N]: where each candidate is in samples

    def sample_offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([len(s) for s in self.samples])]).astype(np.int64)

    def candidate_columns(self) -> np.ndarray:
        """Flat positions ``[P, N]`` of the labelled candidates among all samples."""
        return self.sample_offsets()[:-1, None] + np.asarray(self.labelled_at, dtype=np.int64)


def load_bon(path: str | Path, limit: int | None = None, candidates: int | None = None) -> BonSet:
    """Prompts, their gold-labelled candidates and gold preferences; malformed rows are reported.

    Every prompt keeps the same number N of labelled candidates (its first N): ``candidates`` if
    given (prompts with fewer are skipped and counted), else the fewest any usable prompt has
    (11 in reward-bench-bon). At least 2, so that there is something to choose between."""
    check_limit(limit)
    if candidates is not None and (isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2):
        raise invalid("candidates", f"must be an integer >= 2, got {candidates!r}")
    path = Path(path)
    report = LoadReport(path=str(path), format="reward-bench-bon", unit="prompts")
    rows: list[tuple[int, str, list[str], list[tuple[int, str, float]], dict[int, int]]] = []
    need = candidates or 2
    for line, row in json_rows(path, report, "malformed best-of-N row"):
        try:
            instruction, outputs, gold = row["instruction"], row["outputs"], row["gold_preference_vs_reference"]
            labelled = [(i, o, float(g)) for i, (o, g) in enumerate(zip(outputs, gold)) if g is not None]
            if not isinstance(instruction, str):
                raise TypeError("instruction")
        except (KeyError, TypeError, ValueError, OverflowError):
            report.skip(line, "malformed best-of-N row")
            continue
        usable = [i for i, o in enumerate(outputs) if isinstance(o, str) and o.strip()]
        position = {i: k for k, i in enumerate(usable)}  # output index -> index among the samples
        labelled = [(i, o, g) for i, o, g in labelled if i in position and np.isfinite(g)]
        if len(labelled) < need:
            report.skip(line, f"fewer than {need} labelled candidates")
            continue
        rows.append((line, instruction, [outputs[i] for i in usable], labelled, position))
        if limit is not None and len(rows) >= limit:
            break
    finish_report(path, report, len(rows), "best-of-N prompts")
    n = candidates or min(len(labelled) for _, _, _, labelled, _ in rows)
    prompts, cands, golds, samples, labelled_at = [], [], [], [], []
    for _, instruction, usable_outputs, labelled, position in rows:
        labelled = labelled[:n]
        prompts.append(instruction)
        cands.append([o for _, o, _ in labelled])
        samples.append(usable_outputs)
        golds.append([g for _, _, g in labelled])
        labelled_at.append([position[i] for i, _, _ in labelled])
    return BonSet(prompts, cands, np.asarray(golds, dtype=np.float64), report, samples, labelled_at)


def score_candidates(model, bon: BonSet, cache_dir=None, progress=None) -> np.ndarray:
    """``r_U`` ``[P, N]``: the ensemble's mean score of every candidate."""
    from rewardlab.ensemble import aggregate

    members = score_members(model, bon.prompts, bon.candidates, cache_dir, progress)
    return aggregate(members, "mean").value.astype(np.float64).reshape(bon.gold.shape)


def score_members(model, prompts: Sequence[str], responses: Sequence[Sequence[str]], cache_dir=None, progress=None) -> np.ndarray:
    """Per-member scores ``[K, total responses]`` of every prompt's responses, flattened in order."""
    context = model.meta.get("text_context", "last_turn")
    texts = [dialogue_text(p, c, context) for p, cs in zip(prompts, responses) for c in cs]
    return model.score_texts(texts, cache_dir=cache_dir, progress=progress)


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
