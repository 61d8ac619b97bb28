"""rewardlab's reward function inside TRL's own GRPOTrainer, on a tiny random policy built here."""

import math

import numpy as np
import pytest
import torch

pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from rewardlab.data.pairs import dialogue_text  # noqa: E402
from rewardlab.integrations.trl import reward_function  # noqa: E402
from rewardlab.models import RewardModel  # noqa: E402
from tiny_models import tiny_policy  # noqa: E402


class Recorder:
    """Passes TRL's call through to the reward function and keeps what went in and out."""

    def __init__(self, inner):
        self.inner, self.__name__, self.calls = inner, inner.__name__, []

    def __call__(self, prompts, completions, **kwargs):
        out = self.inner(prompts, completions, **kwargs)
        self.calls.append((list(prompts), list(completions), out))
        return out


def test_grpo_trainer_steps_on_rewardlab_rewards(model_dir, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    policy = tiny_policy(tmp_path / "policy")
    prompts = ["Human: help me please ? Assistant:", "Human: is the answer yes ? Assistant:"] * 2
    reward = Recorder(reward_function(model_dir, aggregate="uwo", lam=0.5))
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=8, max_steps=2, learning_rate=1e-2, logging_steps=1, report_to=[],
                      use_cpu=True, seed=0, save_strategy="no", temperature=1.0)
    trainer = GRPOTrainer(model=policy, reward_funcs=[reward], args=args,
                          train_dataset=datasets.Dataset.from_dict({"prompt": prompts}))
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    trainer.train()

    assert len(reward.calls) == 2  # one call per step, every completion of the batch
    model = RewardModel.load(model_dir)
    for call_prompts, completions, out in reward.calls:
        assert len(out) == 4 and all(isinstance(r, float) for r in out)
        members = model.score_texts([dialogue_text(p, c) for p, c in zip(call_prompts, completions)], progress=False)
        want = members.mean(axis=0) - 0.5 * members.std(axis=0)
        np.testing.assert_allclose(out, want, atol=1e-5)
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewardlab_uwo/member_std", "rewardlab_uwo/group_variance", "rewards/rewardlab_uwo/mean"} <= logged, logged
    changed = [k for k, v in trainer.model.named_parameters() if not torch.equal(v.detach(), before[k])]
    assert changed, "the policy did not move"


def test_conversational_prompts_and_undefined_rewards(model_dir):
    f = reward_function(model_dir)
    prompts = [[{"role": "user", "content": "Is tea good for you?"}]] * 3
    completions = [[{"role": "assistant", "content": "In moderation, yes."}], [{"role": "assistant", "content": ""}], None]
    metrics = {}
    out = f(prompts=prompts, completions=completions, log_metric=lambda k, v: metrics.__setitem__(k, v))
    model = RewardModel.load(model_dir)
    want = model.score_texts([dialogue_text("\n\nHuman: Is tea good for you?\n\nAssistant:", r)
                              for r in ("In moderation, yes.", "")], progress=False).mean(axis=0)
    np.testing.assert_allclose(out[:2], want, atol=1e-5)
    assert out[2] is None  # not text: TRL turns None into NaN and leaves it out
    assert math.isfinite(metrics["rewardlab_mean/group_variance"])
    with pytest.raises(ValueError, match=r"prompts\[0\]"):
        f(prompts=[42], completions=["x"])


def test_remote_reward_function_equals_in_process(model_dir):
    """Through a real ``rewardlab serve`` on 127.0.0.1: the same rewards and diagnostics as in-process."""
    from rewardlab.integrations.trl import remote_reward_function
    from servers import start

    prompts = ["Human: help me please ? Assistant:"] * 3 + ["Human: is the answer yes ? Assistant:"] * 3
    completions = ["yes", "no thanks", "here is the answer", "maybe", "sorry i can not", "you are welcome"]
    server = start(model_dir, "--aggregate", "uwo", "--lam", "0.5")
    try:
        local, remote = {}, {}
        want = reward_function(model_dir, aggregate="uwo", lam=0.5, name="x")(
            prompts, completions, log_metric=lambda k, v: local.__setitem__(k, v))
        got = remote_reward_function(server.url, name="x")(prompts, completions, log_metric=lambda k, v: remote.__setitem__(k, v))
        np.testing.assert_allclose(got, want, atol=1e-5)
        rewards = np.array(want).reshape(2, 3)
        assert math.isclose(remote["x/group_variance"], float(np.mean(rewards.var(axis=1, ddof=1))), rel_tol=1e-4)
        assert remote.keys() == local.keys()
        with pytest.raises(RuntimeError, match=r"answered 422 \(items\[0\]\.prompt"):
            remote_reward_function(server.url).backend([None], ["y"])  # a refusal says why
    finally:
        server.stop()
    with pytest.raises(RuntimeError, match="cannot reach"):
        remote_reward_function(server.url)(prompts[:1], completions[:1])
    with pytest.raises(ValueError, match="url"):
        remote_reward_function("localhost:8000")
