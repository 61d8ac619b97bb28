"""A rewardlab model as one of TRL's ``reward_funcs`` (``GRPOTrainer``, TRL 1.x).

    from rewardlab.integrations.trl import reward_function, remote_reward_function
    trainer = GRPOTrainer(model=..., reward_funcs=[reward_function("my-rm", aggregate="uwo", lam=0.5)], ...)
    # or, with the model behind `rewardlab serve --model my-rm --aggregate uwo --lam 0.5`:
    trainer = GRPOTrainer(model=..., reward_funcs=[remote_reward_function("http://127.0.0.1:8000")], ...)

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rewardlab.data.formats import flatten_messages
from rewardlab.data.pairs import ASSISTANT_TAG
from rewardlab.errors import invalid
from rewardlab.serve.client import none_as_nan, score_endpoint, score_remote

__all__ = ["GroupedRewards", "RewardFunction", "remote_reward_function", "reward_function"]


@dataclass
class GroupedRewards:
    """What one reward call yields: per item its reward and the members' std; per prompt group its
    reward variance and whether it is flat."""

    reward: np.ndarray
    std: np.ndarray
    variance: np.ndarray
    flat: np.ndarray


# (prompt texts, response texts) -> rewards; the prompt text is also the group key
Backend = Callable[[list[str], list[str]], GroupedRewards]


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

    def __init__(self, backend: Backend, name: str = "rewardlab") -> None:
        self.backend, self.__name__ = backend, name

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
        # TRL repeats each prompt once per generation: the prompt text keys its group
        scored = self.backend([texts[i] for i in defined], [replies[i] or "" for i in defined])
        for j, i in enumerate(defined):
            out[i] = float(scored.reward[j])
        if log_metric is not None:
            log_metric(f"{self.__name__}/member_std", float(np.mean(scored.std)))
            known = np.isfinite(scored.variance)
            if known.any():
                log_metric(f"{self.__name__}/group_variance", float(np.mean(scored.variance[known])))
                log_metric(f"{self.__name__}/flat_groups", float(np.mean(scored.flat[known])))
        if log_extra is not None:
            std: list[float | None] = [None] * len(prompts)
            for j, i in enumerate(defined):
                std[i] = float(scored.std[j])
            log_extra(f"{self.__name__}_std", std)
        return out


def reward_function(model_dir: str | Path, aggregate: str = "mean", lam: float = 1.0, *, flat_var: float = 1e-3,
                    cache_dir: str | Path | bool = False, name: str | None = None) -> RewardFunction:
    """The rewardlab model in ``model_dir`` as a TRL reward function, scored in this process (loaded
    now, not at the first step). ``aggregate``: ``mean``, ``min``, ``median`` or ``uwo`` (mean −
    ``lam``·std). ``cache_dir``: False (default: rollout texts rarely repeat) or an embedding cache
    folder."""
    from rewardlab.serve.scorer import ServeRules, shared_scorer

    scorer = shared_scorer(model_dir, ServeRules(aggregate=aggregate, lam=lam, flat_var=flat_var), cache_dir)

    def in_process(prompts: list[str], responses: list[str]) -> GroupedRewards:
        scores = scorer.score(prompts, responses)
        groups = scorer.groups(prompts, scores)
        return GroupedRewards(scores.reward, scores.std, groups.variance, groups.flat)

    return RewardFunction(in_process, name or f"rewardlab_{aggregate}")


def remote_reward_function(url: str, *, name: str = "rewardlab", timeout: float = 300.0,
                           retries: int = 5) -> RewardFunction:
    """A running ``rewardlab serve`` (at ``url``, e.g. ``http://127.0.0.1:8000``) as a TRL reward
    function: each call is one ``POST /score`` with the batch's items grouped by prompt. The
    aggregation rule and shaping are the server's flags. A full server (503) is retried after its
    ``Retry-After`` up to ``retries`` times; any other refusal raises, with the server's reason."""
    endpoint = score_endpoint(url)

    def remote(prompts: list[str], responses: list[str]) -> GroupedRewards:
        answer = score_remote(endpoint, prompts, responses, prompts, timeout=timeout, retries=retries)
        items, groups = answer["items"], answer["groups"]
        return GroupedRewards(
            np.array([none_as_nan(it["reward"]) for it in items], np.float64),
            np.array([none_as_nan(it["std"]) for it in items], np.float64),
            np.array([none_as_nan(g["variance"]) for g in groups], np.float64),
            np.array([bool(g["flat"]) for g in groups], bool),
        )

    return RewardFunction(remote, name)
