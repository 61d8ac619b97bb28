"""rewardlab's estimators through verl's own registry, against verl's built-ins of the same kind."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

from verl.trainer.config import AlgoConfig  # noqa: E402
from verl.trainer.ppo.core_algos import get_adv_estimator_fn  # noqa: E402

import rewardlab.integrations.verl  # noqa: E402,F401  (registers the estimators)

PAIRS = [  # (rewardlab's name, verl's built-in)
    ("rewardlab_rloo", "rloo"),
    ("rewardlab_rloo_vectorized", "rloo_vectorized"),
    ("rewardlab_reinforce_plus_plus", "reinforce_plus_plus"),
    ("rewardlab_reinforce_plus_plus_baseline", "reinforce_plus_plus_baseline"),
]


def batch(seed, rows=24, cols=40, groups=5):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, cols + 1, (rows,), generator=g)
    mask = (torch.arange(cols)[None, :] < lengths[:, None]).float()
    rewards = torch.zeros(rows, cols)
    rewards[torch.arange(rows), lengths - 1] = torch.randn(rows, generator=g)  # outcome reward on the last token
    index = np.array([f"uid-{i % groups}" for i in range(rows)], dtype=object)
    return rewards, mask, index


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ours,theirs", PAIRS)
def test_registered_estimators_equal_verls_own(ours, theirs, seed):
    rewards, mask, index = batch(seed)
    config = AlgoConfig(gamma=0.97)
    # what verl's compute_advantage passes to a registered estimator
    kwargs = {"token_level_rewards": rewards, "response_mask": mask, "config": config, "index": index}
    a, r = get_adv_estimator_fn(ours)(**kwargs)
    b, s = get_adv_estimator_fn(theirs)(**kwargs)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r, s, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", [True, False])
def test_grpo_reads_the_std_switch_from_verls_config(norm):
    rewards, mask, index = batch(7)
    ours, _ = get_adv_estimator_fn("rewardlab_grpo")(
        token_level_rewards=rewards, response_mask=mask, config=AlgoConfig(norm_adv_by_std_in_grpo=norm), index=index)
    # verl's GRPO gets the switch as an argument from compute_advantage, not from the config
    theirs, _ = get_adv_estimator_fn("grpo")(token_level_rewards=rewards, response_mask=mask, index=index,
                                             norm_adv_by_std_in_grpo=norm)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(ours, torch.zeros_like(ours))


def _registry_in_fresh_python(env_extra):
    code = ("import json, verl\n"
            "from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY\n"
            "print(json.dumps(sorted(k for k in ADV_ESTIMATOR_REGISTRY if k.startswith('rewardlab_'))))\n")
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_verl_loads_the_module_named_by_its_environment_variable():
    names = _registry_in_fresh_python({"VERL_USE_EXTERNAL_MODULES": "rewardlab.integrations.verl",
                                       "VERL_USE_EXTERNAL_PLUGINS": "none"})
    assert names == sorted(rewardlab.integrations.verl.ESTIMATORS)


def test_verl_finds_rewardlab_as_a_plugin_without_configuration():
    from importlib.metadata import entry_points

    if not any(ep.value == "rewardlab.integrations.verl" for ep in entry_points(group="verl.plugins")):
        pytest.skip("rewardlab is installed without its entry points (an editable install of an older build)")
    names = _registry_in_fresh_python({"VERL_USE_EXTERNAL_PLUGINS": "auto"})
    assert names == sorted(rewardlab.integrations.verl.ESTIMATORS)
    assert _registry_in_fresh_python({"VERL_USE_EXTERNAL_PLUGINS": "none"}) == []
