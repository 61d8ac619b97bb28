"""rewardlab's advantage estimators inside verl, chosen by configuration.

Importing this module registers rewardlab's Rust estimators in verl's own registry
(``verl.trainer.ppo.core_algos.register_adv_est``), under names of their own so that verl's
built-ins stay as they are:

    VERL_USE_EXTERNAL_MODULES=rewardlab.integrations.verl python -m verl.trainer.main_ppo \\
        algorithm.adv_estimator=rewardlab_grpo ...

Installing rewardlab also declares the module as a ``verl.plugins`` entry point, which verl
(>= 0.9) loads on ``import verl`` unless ``VERL_USE_EXTERNAL_PLUGINS=none``; the environment
variable above is the explicit way and works with older verl too.

| name | what it computes (equal to verl 0.9.1's) |
|---|---|
| ``rewardlab_grpo`` | GRPO; Dr.GRPO with ``algorithm.norm_adv_by_std_in_grpo=False`` |
| ``rewardlab_rloo`` | RLOO (loop semantics) |
| ``rewardlab_rloo_vectorized`` | RLOO (a single-response group gets 0) |
| ``rewardlab_reinforce_plus_plus`` | REINFORCE++ (``algorithm.gamma``) |
| ``rewardlab_reinforce_plus_plus_baseline`` | REINFORCE++-baseline |

verl's ``compute_advantage`` calls GAE (``gae``) with the critic's values by a code path of its
own, not through the registry, so GAE cannot be swapped by configuration; use
``rewardlab.credit.verl.compute_gae_advantage_return`` in a patched trainer (docs/credit.md).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from rewardlab.credit import verl as dropin

__all__ = ["ESTIMATORS", "register"]


def _setting(config: Any, name: str, default: Any) -> Any:
    """``config.name`` of verl's AlgoConfig, a dict or an OmegaConf node; ``default`` without it."""
    if config is None:
        return default
    if isinstance(config, dict):
        return config.get(name, default)
    getter = getattr(config, "get", None)
    return getter(name, default) if callable(getter) else getattr(config, name, default)


def grpo(token_level_rewards: torch.Tensor, response_mask: torch.Tensor, index: Any, epsilon: float = 1e-6,
         norm_adv_by_std_in_grpo: Optional[bool] = None, config: Optional[Any] = None, **kwargs: Any):
    """GRPO; the std scaling follows ``norm_adv_by_std_in_grpo`` when given, else the config's."""
    scale = norm_adv_by_std_in_grpo if norm_adv_by_std_in_grpo is not None else _setting(config, "norm_adv_by_std_in_grpo", True)
    return dropin.compute_grpo_outcome_advantage(token_level_rewards, response_mask, index, epsilon, bool(scale))


def rloo(token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs):
    """RLOO with verl's loop semantics."""
    return dropin.compute_rloo_outcome_advantage(token_level_rewards, response_mask, index, epsilon)


def rloo_vectorized(token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs):
    """RLOO with verl's vectorised semantics."""
    return dropin.compute_rloo_vectorized_outcome_advantage(token_level_rewards, response_mask, index, epsilon)


def reinforce_plus_plus(token_level_rewards, response_mask, config=None, **kwargs):
    """REINFORCE++ returns, whitened; ``gamma`` from the config (required, as in verl)."""
    return dropin.compute_reinforce_plus_plus_outcome_advantage(token_level_rewards, response_mask, config)


def reinforce_plus_plus_baseline(token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs):
    """REINFORCE++-baseline."""
    return dropin.compute_reinforce_plus_plus_baseline_outcome_advantage(token_level_rewards, response_mask, index, epsilon)


ESTIMATORS: dict[str, Callable] = {
    "rewardlab_grpo": grpo,
    "rewardlab_rloo": rloo,
    "rewardlab_rloo_vectorized": rloo_vectorized,
    "rewardlab_reinforce_plus_plus": reinforce_plus_plus,
    "rewardlab_reinforce_plus_plus_baseline": reinforce_plus_plus_baseline,
}


def register() -> list[str]:
    """Registers every estimator with verl (again after a registry reset; a no-op otherwise)."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est

    for name, fn in ESTIMATORS.items():
        if ADV_ESTIMATOR_REGISTRY.get(name) is not fn:
            register_adv_est(name)(fn)
    return list(ESTIMATORS)


register()
