"""Bad input raises InvalidInputError (a ValueError) naming the argument; never a crash."""

import numpy as np
import pytest

from rewardlab import InvalidInputError, credit

R = np.zeros((2, 3), dtype=np.float32)
M = np.ones((2, 3), dtype=bool)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: credit.gae(R, np.zeros((2, 4), np.float32), M), "values"),
        (lambda: credit.gae(R, R.astype(np.float64), M), "values"),
        (lambda: credit.gae(R, R, np.ones((2, 4), bool)), "mask"),
        (lambda: credit.gae(R, R, np.full((2, 3), 2, np.int64)), "mask"),
        (lambda: credit.gae(R, R, M.astype(np.float32) * 0.5), "mask"),
        (lambda: credit.gae(R.astype(np.int64), R, M), "rewards"),
        (lambda: credit.gae(np.zeros((3, 2), np.float32).T, R, M), "rewards"),
        (lambda: credit.gae(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)), "rewards"),
        (lambda: credit.gae(R, R, M, gamma=float("nan")), "gamma"),
        (lambda: credit.gae(R, R, M, masked_steps="skip"), "masked_steps"),
        (lambda: credit.gae(R.ravel(), R.ravel(), offsets=np.array([0, 2, 5])), "offsets"),
        (lambda: credit.gae(R.ravel(), R.ravel(), offsets=np.array([0, 4, 2, 6])), "offsets"),
        (lambda: credit.gae(R.ravel(), R.ravel(), offsets=np.array([1, 6])), "offsets"),
        (lambda: credit.gae(R, R, offsets=np.array([0, 6])), "rewards"),
        (lambda: credit.grpo(R, M, ["a"]), "index"),
        (lambda: credit.grpo(R, None, ["a", "b"]), "mask"),
        (lambda: credit.outcome_advantages(R, M, [0, 1], estimator="ppo"), "estimator"),
        (lambda: credit.kl_penalty(R, R, "k4"), "kl_penalty"),
        (lambda: credit.kl_penalty(R, R[:1], "k1"), "ref_logprob"),
        (lambda: credit.masked_whiten(R, np.zeros_like(M)), "mask"),
        (lambda: credit.gae([[1.0]], [[1.0]]), "rewards"),
    ],
)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert str(info.value).startswith(arg), str(info.value)
    assert isinstance(info.value, ValueError)


RPF = np.zeros((4, 2), dtype=np.float32)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"rewards_per_func": RPF[:, 0]}, "rewards_per_func"),
        ({"rewards_per_func": RPF[:0]}, "rewards_per_func"),
        ({"reward_weights": [1.0]}, "reward_weights"),
        ({"reward_weights": [[1.0, 1.0]]}, "reward_weights"),
        ({"reward_weights": ["a", "b"]}, "reward_weights"),
        ({"num_generations": 3}, "num_generations"),
        ({"num_generations": 0}, "num_generations"),
        ({"num_generations": -2}, "num_generations"),
        ({"num_generations": 2.0}, "num_generations"),
        ({"scale_rewards": "prompt"}, "scale_rewards"),
        ({"multi_objective_aggregation": "max"}, "multi_objective_aggregation"),
    ],
)
def test_trl_drop_in_names_the_bad_argument(kwargs, arg):
    torch = pytest.importorskip("torch")
    from rewardlab.credit import trl

    args = {"rewards_per_func": RPF, "reward_weights": [1.0, 1.0], "num_generations": 2, **kwargs}
    args["rewards_per_func"] = torch.from_numpy(np.ascontiguousarray(args["rewards_per_func"]))
    with pytest.raises(InvalidInputError) as info:
        trl.grpo_advantages(**args)
    assert str(info.value).startswith(arg), str(info.value)
