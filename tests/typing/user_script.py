"""A user's script over the public API, checked with ``mypy --strict`` (tests/test_typing.py):
the names users import carry types a strict checker accepts."""

from __future__ import annotations

import numpy as np
import torch

import rewardlab
from rewardlab import credit
from rewardlab.credit import verl as core_algos
from rewardlab.data import PreferencePair, load_pairs, split_by_prompt
from rewardlab.datasets import HH, path
from rewardlab.diagnostics import reward_variance, teacher_report
from rewardlab.models import Aggregated, RewardModel, aggregate
from rewardlab.redistribution import rredcot_token_rewards, segment
from rewardlab.shaping import best_of_n, shape_rewards, soft_best_of_n


def scores_of(model: RewardModel, pairs: list[PreferencePair]) -> Aggregated:
    texts = [p.prompt + p.chosen for p in pairs]
    return aggregate(model.score_texts(texts), "uwo", lam=1.0)


def main() -> None:
    pairs, report = load_pairs(path(HH))
    split = split_by_prompt(pairs, dev=0.1, test=0.1)
    print(report.summary(), len(split.train))

    rewards = np.random.default_rng(0).normal(size=(8, 16))
    shaped: np.ndarray = shape_rewards(rewards, method="stackelberg", beta=0.3, B=15.0)
    probs = soft_best_of_n(shaped, beta=0.3)
    picks = best_of_n(rewards)
    variance = reward_variance(rewards)
    rows = teacher_report({"a": rewards}, rewards)
    print(probs.shape, picks.shape, variance.mean(), rows[0].accuracy)

    token_rewards = np.zeros((4, 8), np.float32)
    mask = np.ones((4, 8), bool)
    res = credit.grpo(token_rewards, mask, np.array([0, 0, 1, 1]))
    print(res.report)
    t = torch.zeros(4, 8)
    adv, ret = core_algos.compute_gae_advantage_return(t, t, torch.ones(4, 8), gamma=1.0, lam=0.95)
    print(adv.shape, ret.shape)

    tokens = np.zeros((2, 8), np.int64)
    seg = segment(tokens, delimiters=[1])
    spread = rredcot_token_rewards(np.zeros(seg.total), np.zeros(2), seg, shape=(2, 8))
    print(spread.shape, rewardlab.__version__)


if __name__ == "__main__":
    main()
