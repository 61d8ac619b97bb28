"""Simulated annotators: labels follow sigmoid(q * dr / scale), pairs are where they should be."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.errors import InvalidInputError
from rewardlab.models.annotators import annotate


def test_a_perfect_annotator_never_contradicts_the_gold():
    gold = np.random.default_rng(0).standard_normal((50, 6))
    ann = annotate(gold, math.inf, pairing="same", pairs_per_prompt=8, seed=1)
    assert ann.noise_rate == 0.0 and ann.expected_noise_rate == 0.0
    assert (gold[ann.winner[:, 0], ann.winner[:, 1]] >= gold[ann.loser[:, 0], ann.loser[:, 1]]).all()


def test_pairings_put_pairs_within_or_across_prompts():
    gold = np.random.default_rng(0).standard_normal((40, 5))
    same = annotate(gold, 1.0, pairing="same", pairs_per_prompt=5)
    assert (same.winner[:, 0] == same.loser[:, 0]).all() and (same.winner[:, 1] != same.loser[:, 1]).all()
    cross = annotate(gold, 1.0, pairing="cross", pairs_per_prompt=5)
    assert (cross.winner[:, 0] != cross.loser[:, 0]).all()
    for ann in (same, cross):
        assert len(ann) == 200
        # every training prompt contributes pairs_per_prompt pairs of its own
        firsts = np.sort(np.concatenate([ann.winner, ann.loser])[:, 0])
        assert set(firsts) == set(range(40))


@pytest.mark.parametrize("quality", [0.3, 1.0, 4.0])
def test_label_noise_follows_the_sigmoid(quality):
    # two responses per prompt, one golden gap d everywhere: each label is wrong with
    # probability sigmoid(-q d / scale), so the wrong share is binomial around it
    prompts, d, scale = 20000, 0.8, 2.0
    gold = np.tile([0.0, d], (prompts, 1))
    ann = annotate(gold, quality, pairing="same", pairs_per_prompt=1, scale=scale, seed=3)
    p = 1 / (1 + math.exp(quality * d / scale))
    assert ann.expected_noise_rate == pytest.approx(p, rel=1e-12)
    assert abs(ann.noise_rate - p) < 5 * math.sqrt(p * (1 - p) / prompts)


def test_the_default_scale_is_the_golden_std():
    gold = np.random.default_rng(2).standard_normal((30, 4)) * 3
    assert annotate(gold, 1.0).scale == pytest.approx(gold.std())


@pytest.mark.parametrize("kwargs,arg", [
    ({"quality": 0.0}, "quality"), ({"quality": -1.0}, "quality"), ({"quality": float("nan")}, "quality"),
    ({"quality": 1.0, "pairing": "both"}, "pairing"), ({"quality": 1.0, "scale": 0.0}, "scale"),
    ({"quality": 1.0, "pairs_per_prompt": 0}, "pairs_per_prompt"),
])
def test_bad_input_names_the_argument(kwargs, arg):
    with pytest.raises(InvalidInputError, match=f"^{arg}:"):
        annotate(np.zeros((3, 3)) + np.arange(3), **kwargs)
