"""Teacher diagnostics: is a reward model a good *teacher* for a given policy, not only accurate?

Razin et al. (NeurIPS 2025) show that the time policy gradient needs to raise the reward grows like
``E_x[Var_{y~π}(r(x, y))]^(-1/3)``: a reward model that ranks well but gives nearly flat rewards
on the policy's own samples is a slow teacher. So the report puts, beside on-policy accuracy, the
per-prompt reward variance under the policy, after the paper's normalisation: each reward model's
rewards are standardised by their mean and std over *all* the initial policy's samples, so models
are compared at equal global scale and differ in how much of that spread lies *within* prompts.

Groups are one prompt's policy samples: padded ``[P, N]`` or flat + ``offsets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from rewardlab import _core
from rewardlab._utils.groups import as_f64, groups
from rewardlab.errors import invalid
from rewardlab.models.evaluate import mean_interval


def standardise(rewards: Any) -> np.ndarray:
    """``(r − mean)/sqrt(var + 1e-8)`` over all samples (the paper's global normalisation)."""
    r = as_f64(rewards, "rewards")
    if r.size == 0 or not np.isfinite(r).all():
        raise invalid("rewards", "must be a non-empty array of finite values")
    return (r - r.mean()) / np.sqrt(r.var() + 1e-8)


def reward_variance(rewards: Any, offsets: Any | None = None, *, normalise: bool = True, ddof: int = 1) -> np.ndarray:
    """Per-prompt variance of the rewards of the policy's samples ``[P]`` (unbiased by default, as
    the paper's ``var(dim=1)``; NaN for a prompt with a single sample)."""
    r, off = groups(rewards, offsets)
    if ddof < 0:
        raise invalid("ddof", f"must be >= 0, got {ddof}")
    _, var, _, global_var = _core.group_moments(r, off, ddof=int(ddof))
    # standardising shifts (no effect on a variance) and divides by the global std
    return var / (global_var + 1e-8) if normalise else var


def on_policy_accuracy(rewards: Any, gold: Any, offsets: Any | None = None) -> tuple[float, tuple[float, float], int]:
    """Share of same-prompt sample pairs the reward orders as the gold does, over all pairs with
    different gold values (proxy ties count one half), with a 95% interval and the pair count.

    Pairs of one prompt share samples and are not independent, so a binomial interval over pairs
    would be far too narrow; the interval is the cluster-robust (linearised ratio) one, prompts
    being the clusters. With a single prompt it is the uninformative (0, 1)."""
    r, off = groups(rewards, offsets)
    y = as_f64(gold, "gold")
    agree, comparable = _core.pairwise_agreement(r, y, off)
    comparable = comparable.astype(np.float64)
    n = int(comparable.sum())
    if n == 0:
        raise invalid("gold", "no pair of samples has different gold values")
    acc = float(agree.sum()) / n
    clusters = int((comparable > 0).sum())
    if clusters < 2:
        return acc, (0.0, 1.0), n
    resid = agree - acc * comparable
    se = np.sqrt(clusters / (clusters - 1) * float(resid @ resid)) / n
    return acc, (max(0.0, acc - 1.96 * se), min(1.0, acc + 1.96 * se)), n


@dataclass(frozen=True)
class TeacherRow:
    name: str
    accuracy: float
    accuracy_ci95: tuple[float, float]
    variance: float  # mean over prompts of the normalised per-prompt variance
    variance_ci95: tuple[float, float]
    accuracy_rank: int = 0
    variance_rank: int = 0

    def to_dict(self) -> dict:
        """The row as plain JSON values."""
        d = dict(self.__dict__)
        d["accuracy_ci95"], d["variance_ci95"] = list(self.accuracy_ci95), list(self.variance_ci95)
        return d


def teacher_report(rewards_by_model: Mapping[str, Any], gold: Any, offsets: Any | None = None) -> list[TeacherRow]:
    """Ranks reward models by on-policy accuracy and by normalised reward variance (1 = best).

    The variance interval is the normal one of a mean over prompts."""
    if not rewards_by_model:
        raise invalid("rewards_by_model", "give at least one reward model")
    return _ranked([_teacher_row(name, r, gold, offsets, r, offsets) for name, r in rewards_by_model.items()])


def _teacher_row(name: str, labelled: Any, gold: Any, labelled_offsets: Any, samples: Any, sample_offsets: Any) -> TeacherRow:
    """Accuracy on the gold-labelled rewards, variance over the policy's samples (the same array
    when every sample is labelled)."""
    acc, acc_ci, _ = on_policy_accuracy(labelled, gold, labelled_offsets)
    var = reward_variance(samples, sample_offsets)
    var = var[np.isfinite(var)]
    return TeacherRow(name, acc, acc_ci, float(var.mean()), mean_interval(var))


def _ranked(rows: list[TeacherRow]) -> list[TeacherRow]:
    """The rows in input order with their ranks by accuracy and by variance filled in (1 = best)."""
    acc_order = sorted(range(len(rows)), key=lambda i: -rows[i].accuracy)
    var_order = sorted(range(len(rows)), key=lambda i: -rows[i].variance)
    acc_rank = {i: k + 1 for k, i in enumerate(acc_order)}
    var_rank = {i: k + 1 for k, i in enumerate(var_order)}
    return [TeacherRow(**{**t.__dict__, "accuracy_rank": acc_rank[i], "variance_rank": var_rank[i]}) for i, t in enumerate(rows)]


def rule_rewards(member_scores: np.ndarray, prefix: str, members: bool = True) -> dict[str, np.ndarray]:
    """The rewards of every aggregation rule (and, with ``members``, of every member) of one
    ensemble's ``[K, N]`` scores, each treated as a reward model of its own."""
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.evaluate import DEFAULT_RULES

    out = {f"{prefix}:{label}": aggregate(member_scores, method, **kw).value.astype(np.float64) for label, method, kw in DEFAULT_RULES}
    if members and member_scores.shape[0] > 1:
        out.update({f"{prefix}:member{k}": member_scores[k].astype(np.float64) for k in range(member_scores.shape[0])})
    return out


def diagnose_bon(models: Mapping[str, Any], bon: Any, *, members: bool = True, cache_dir=None, progress=None) -> dict:
    """Teacher report of reward models on a best-of-N set (``rewardlab.data.BonSet``): the policy's
    samples are all of a prompt's samples (variance), the gold-labelled ones give accuracy."""
    from rewardlab.models.pipeline import score_members

    if not models:
        raise invalid("models", "give at least one reward model")
    offsets = bon.sample_offsets()
    columns = bon.candidate_columns()  # the labelled candidates are some of the samples: score once
    rewards = {}
    for name, model in models.items():
        rewards.update(rule_rewards(score_members(model, bon.prompts, bon.samples, cache_dir, progress), name, members))
    rows = [_teacher_row(name, r[columns], bon.gold, None, r, offsets) for name, r in rewards.items()]
    return {
        "prompts": len(bon.prompts),
        "policy_samples": int(offsets[-1]),
        "gold_pairs": int((bon.gold[:, :, None] != bon.gold[:, None, :]).sum()) // 2,  # pairs with different gold
        "rows": [r.to_dict() for r in _ranked(rows)],
    }
