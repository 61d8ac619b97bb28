"""A rewardlab model as one of TRL's ``reward_funcs`` (``GRPOTrainer``, TRL 1.x).

    from rewardlab.integrations.trl import reward_function
    trainer = GRPOTrainer(model=..., reward_funcs=[reward_function("my-rm", aggregate="uwo", lam=0.5)], ...)

Plain prompts and completions (strings) and conversational ones (lists of ``{"role", "content"}``
messages) are both accepted; a conversation becomes the same HH-style dialogue text the model was
trained on (``rewardlab.data.formats.flatten_messages``). Returns one float per completion, and
``None`` (TRL: reward undefined, NaN, left out of its mean) for a completion that is not text.

Through TRL's ``log_metric`` it logs, per batch: the ensemble members' mean std
(``<name>/member_std``), the mean within-prompt reward variance over the prompt groups TRL builds
(``<name>/group_variance``, Razin et al.'s teacher diagnostic) and the share of groups flatter than
``flat_var`` (``<name>/flat_groups``); through ``log_extra``, each completion's std in the
completions table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rewardlab.data.formats import flatten_messages
from rewardlab.data.pairs import ASSISTANT_TAG
from rewardlab.errors import invalid
from rewardlab.serve.scorer import RewardScorer, ServeRules

__all__ = ["RewardFunction", "reward_function"]


def _prompt_text(prompt: Any, i: int) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
        return flatten_messages([(m["role"], str(m["content"])) for m in prompt]) + ASSISTANT_TAG
    raise invalid(f"prompts[{i}]", f"expected a string or a list of {{'role', 'content'}} messages, got {type(prompt).__name__}")


def _completion_text(completion: Any) -> str | None:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and all(isinstance(m, dict) and "content" in m for m in completion):
        return "".join(str(m["content"]) for m in completion if m.get("role", "assistant") == "assistant")
    return None


class RewardFunction:
    """Callable as TRL calls a reward function: ``f(prompts=..., completions=..., **columns)``."""

    def __init__(self, scorer: RewardScorer, name: str = "rewardlab") -> None:
        self.scorer, self.__name__ = scorer, name

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], log_metric: Callable | None = None,
                 log_extra: Callable | None = None, **kwargs: Any) -> list[float | None]:
        if len(prompts) != len(completions):
            raise invalid("completions", f"expected {len(prompts)} completions (one per prompt), got {len(completions)}")
        texts = [_prompt_text(p, i) for i, p in enumerate(prompts)]
        replies = [_completion_text(c) for c in completions]
        defined = [i for i, r in enumerate(replies) if r is not None]
        out: list[float | None] = [None] * len(prompts)
        if not defined:
            return out
        scores = self.scorer.score([texts[i] for i in defined], [replies[i] or "" for i in defined])
        for j, i in enumerate(defined):
            out[i] = float(scores.reward[j])
        if log_metric is not None:
            log_metric(f"{self.__name__}/member_std", float(np.mean(scores.std)))
            groups = self.scorer.groups([texts[i] for i in defined], scores)  # TRL repeats each prompt per generation
            if np.isfinite(groups.variance).any():
                log_metric(f"{self.__name__}/group_variance", float(np.nanmean(groups.variance)))
                log_metric(f"{self.__name__}/flat_groups", float(np.mean(groups.flat[np.isfinite(groups.variance)])))
        if log_extra is not None:
            std: list[float | None] = [None] * len(prompts)
            for j, i in enumerate(defined):
                std[i] = float(scores.std[j])
            log_extra(f"{self.__name__}_std", std)
        return out


def reward_function(model_dir: str | Path, aggregate: str = "mean", lam: float = 1.0, *, flat_var: float = 1e-3,
                    cache_dir: str | Path | bool = False, name: str | None = None) -> RewardFunction:
    """The rewardlab model in ``model_dir`` as a TRL reward function (loaded now, not at the first
    step). ``aggregate``: ``mean``, ``min``, ``median`` or ``uwo`` (mean − ``lam``·std).
    ``cache_dir``: False (default: rollout texts rarely repeat) or an embedding cache folder."""
    rules = ServeRules(aggregate=aggregate, lam=lam, flat_var=flat_var)
    return RewardFunction(RewardScorer.load(model_dir, rules, cache_dir), name or f"rewardlab_{aggregate}")
