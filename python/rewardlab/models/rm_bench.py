"""RM-Bench's accuracies (easy, normal, hard) from the scores of its 3 x 3 grids, as the
benchmark's code defines them, with intervals over prompts.

Per prompt, cell ``[i, j]`` is 1 when chosen response ``i`` scores strictly above rejected
response ``j`` (a tie counts as wrong, as in RM-Bench's ``compute_accuracy``); styles go concise,
detailed, detailed markdown. **hard** is the mean of the upper triangle (``i < j``: the chosen
response is less styled than the rejected one), **normal** the diagonal, **easy** the lower
triangle; **average** is their mean, as the leaderboard reports. Each accuracy is a mean over
prompts of a per-prompt value, so its interval is the normal interval of those per-prompt values:
the nine grid pairs of a prompt are not independent, and count as one observation.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.errors import invalid
from rewardlab.models.evaluate import mean_interval

_UPPER = np.triu(np.ones((3, 3), bool), 1)
_LOWER = np.tril(np.ones((3, 3), bool), -1)
_DIAG = np.eye(3, dtype=bool)


def per_prompt(chosen: np.ndarray, rejected: np.ndarray) -> dict[str, np.ndarray]:
    """``{easy, normal, hard, average}``: each ``[n]``, one value per prompt, from ``[n, 3]`` scores."""
    c, r = np.asarray(chosen, np.float64), np.asarray(rejected, np.float64)
    if c.ndim != 2 or c.shape[1] != 3 or c.shape != r.shape:
        raise invalid("rejected", f"expected [n, 3] scores like chosen {c.shape}, got {r.shape}")
    grid = (c[:, :, None] > r[:, None, :]).astype(np.float64)  # [n, chosen i, rejected j]
    out = {"hard": grid[:, _UPPER].mean(1), "normal": grid[:, _DIAG].mean(1), "easy": grid[:, _LOWER].mean(1)}
    out["average"] = (out["hard"] + out["normal"] + out["easy"]) / 3
    return out


def summarise(values: dict[str, np.ndarray]) -> dict:
    """Each accuracy's mean over prompts and its 95% interval."""
    return {k: {"accuracy": float(v.mean()), "ci95": list(mean_interval(v))} for k, v in values.items()}


def rm_bench_report(chosen: np.ndarray, rejected: np.ndarray, domains: Sequence[str],
                    baselines: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict:
    """The model's accuracies over all prompts and per domain; for each baseline (name ->
    ``[n, 3]`` chosen and rejected scores, e.g. response lengths), its accuracies and the model's
    paired per-prompt difference in each."""
    model = per_prompt(chosen, rejected)
    where = np.asarray(domains)
    if len(where) != len(model["hard"]):
        raise invalid("domains", f"need one domain per prompt ({len(model['hard'])}), got {len(where)}")
    out: dict = {"prompts": len(where), "all": summarise(model),
                 "domains": {d: summarise({k: v[where == d] for k, v in model.items()}) for d in sorted(set(where.tolist()))}}
    out["baselines"] = {}
    for name, (bc, br) in (baselines or {}).items():
        base = per_prompt(bc, br)
        out["baselines"][name] = {
            "all": summarise(base),
            "model_minus_baseline": {k: {"difference": float((model[k] - base[k]).mean()),
                                         "ci95": list(mean_interval(model[k] - base[k]))} for k in model},
        }
    return out
