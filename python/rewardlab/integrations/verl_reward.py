"""A rewardlab model as verl's custom reward function (``reward.custom_reward_function``).

    reward.custom_reward_function.path=pkg://rewardlab.integrations.verl_reward
    reward.custom_reward_function.name=compute_score          # NaiveRewardManager: one sample a call
    # or name=compute_score_batch with reward.reward_manager.name=batch
    +reward.custom_reward_function.reward_kwargs.model_dir=/path/to/my-rm
    # optional: +...reward_kwargs.aggregate=uwo +...reward_kwargs.lam=0.5
    # or, scored by a running `rewardlab serve` instead of in the reward worker:
    +reward.custom_reward_function.reward_kwargs.url=http://127.0.0.1:8000

verl's reward managers hand a reward function the decoded response and the row's ``extra_info``,
not the prompt; an embedding reward model needs it, so it is read from ``extra_info["prompt"]``
(or ``["question"]``, what verl's own data recipes store), and a row without either is an error
naming both. With ``url``, the items go to the server's ``/score`` (its flags choose the rule), so
the reward workers load no model. The score is a dict: verl serves ``score`` as the reward and logs
the other keys (``reward_std``, the ensemble's uncertainty) beside it. The model loads once per
process.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from rewardlab.errors import invalid
from rewardlab.serve.client import none_as_nan, score_endpoint, score_remote
from rewardlab.serve.scorer import RewardScorer, ServeRules, shared_scorer

__all__ = ["compute_score", "compute_score_batch"]

_lock = threading.Lock()  # one model call at a time: trainers call from many threads


def _scorer(model_dir: Any, aggregate: str, lam: float) -> RewardScorer:
    if not model_dir:
        raise invalid("model_dir", "is required (or url): +reward.custom_reward_function.reward_kwargs.model_dir=/path/to/my-rm")
    return shared_scorer(str(model_dir), ServeRules(aggregate=aggregate, lam=float(lam)), cache_dir=False)


def _prompt(extra_info: Any, i: int) -> str:
    info = extra_info if isinstance(extra_info, dict) else {}
    for key in ("prompt", "question"):
        if isinstance(info.get(key), str):
            return info[key]
    raise invalid(f"extra_info[{i}]", "has neither 'prompt' nor 'question': store the prompt text there when preparing the data")


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any], model_dir: Any = None, aggregate: str = "mean", lam: float = 1.0,
                        url: Any = None, **kwargs: Any) -> list[dict]:
    """One ``{"score", "reward_std"}`` per response (verl's BatchRewardManager contract)."""
    prompts = [_prompt(info, i) for i, info in enumerate(extra_infos)]
    if url is not None:
        if model_dir is not None:
            raise invalid("url", "give either model_dir (score in this process) or url (a rewardlab server), not both")
        items = score_remote(score_endpoint(url), prompts, list(solution_strs))["items"]
        return [{"score": none_as_nan(it["reward"]), "reward_std": none_as_nan(it["std"])} for it in items]
    scorer = _scorer(model_dir, aggregate, lam)
    with _lock:  # one model call at a time
        s = scorer.score(prompts, list(solution_strs))
    return [{"score": float(r), "reward_std": float(sd)} for r, sd in zip(s.reward, s.std)]


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  model_dir: Any = None, aggregate: str = "mean", lam: float = 1.0, url: Any = None, **kwargs: Any) -> dict:
    """``{"score", "reward_std"}`` of one response (verl's NaiveRewardManager contract)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], model_dir, aggregate, lam,
                               url)[0]
