"""K-fold cross-fitting by prompt: every pair is scored by an ensemble that never saw its prompt.

A preference set of a few thousand pairs leaves a small held-out split: the demo's 10% of HH
harmless is 201 pairs, and an accuracy difference to a length baseline then has an interval of
about ±0.08. Cross-fitting trains K ensembles, each without one fold of prompts, and scores each
fold with the ensemble that left it out, so every pair is test data once. The estimate is for
"an ensemble trained this way on (K-1)/K of the data", and, like every cross-validation
interval, its interval treats the K trained ensembles as fixed (the per-fold spread is reported
beside it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab.data.pairs import PreferencePair
from rewardlab.data.splits import Split, split_by_prompt, unit_hash
from rewardlab.errors import invalid
from rewardlab.models.baselines import length_baselines, response_words
from rewardlab.models.evaluate import wilson_interval
from rewardlab.models.training import TrainConfig


def fold_of(group: str, folds: int, salt: str = "cross-fit") -> int:
    """The fold, 0..folds-1, of one prompt group: a pure function of the group, as splits are."""
    return int(unit_hash(group, salt) * folds)


@dataclass
class CrossFit:
    """Per-pair outcomes (1 right, ½ tie, 0 wrong; the ensemble's mean rule) in the pairs' order,
    with the fold each pair was held out in."""

    outcomes: np.ndarray
    fold: np.ndarray
    folds: int
    pairs: list[PreferencePair] = field(repr=False)

    def summary(self) -> dict:
        """Accuracy (Wilson interval), the length baselines with the paired, prompt-clustered
        difference to each, and each fold's accuracy and difference to "shorter wins"."""
        o = self.outcomes
        chosen = np.array([response_words(p.chosen) for p in self.pairs])
        rejected = np.array([response_words(p.rejected) for p in self.pairs])
        groups = [p.group for p in self.pairs]
        base = length_baselines(o, chosen, rejected, groups)
        per_fold = []
        for k in range(self.folds):
            sel = self.fold == k
            sub = length_baselines(o[sel], chosen[sel], rejected[sel], [groups[i] for i in np.flatnonzero(sel)])
            per_fold.append({"pairs": int(sel.sum()), "accuracy": float(o[sel].mean()),
                             "minus_shorter": sub["shorter"]["model_minus_baseline"]})
        return {"folds": self.folds, "pairs": len(o), "accuracy": float(o.mean()),
                "ci95": list(wilson_interval(float(o.sum()), len(o))), "length_baselines": base, "per_fold": per_fold}


def cross_fit(
    pairs: Sequence[PreferencePair],
    embedders: Sequence[str],
    config: TrainConfig,
    members: int,
    folds: int = 5,
    salt: str = "cross-fit",
    context: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
) -> CrossFit:
    """Trains ``folds`` ensembles (each on the other folds, 10% of their prompts for early
    stopping) and scores every pair with the one that left its prompt out."""
    from rewardlab.models.pipeline import DEFAULT_CONTEXT, pair_outcomes, train_model

    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise invalid("folds", f"must be an integer of at least 2, got {folds!r}")
    pairs = list(pairs)
    fold = np.array([fold_of(p.group, folds, salt) for p in pairs], dtype=np.int64)
    empty = [k for k in range(folds) if not (fold == k).any()]
    if empty:
        prompts = len({p.group for p in pairs})
        raise invalid("folds", f"{folds} folds of {prompts} prompts leave fold {empty[0]} empty; use fewer folds or more data")
    meta = {"text_context": context or DEFAULT_CONTEXT}
    out = np.empty(len(pairs), np.float64)
    for k in range(folds):
        rest = [p for p, f in zip(pairs, fold) if f != k]
        held = [p for p, f in zip(pairs, fold) if f == k]
        inner = split_by_prompt(rest, dev=0.1, test=0.0, salt=f"{salt}-stop-{k}")
        model = train_model(Split(inner.train, inner.dev, []), embedders, config, members, cache_dir, progress, meta=meta)
        out[fold == k] = pair_outcomes(model, held, cache_dir, progress)
    return CrossFit(out, fold, folds, pairs)
