"""A rewardlab model as OpenRLHF's in-process reward function.

OpenRLHF (0.11.2) accepts a Python file as ``--reward.remote_url``: it loads the file and calls its
``reward_func(queries, prompts, labels)`` once per sample, in a worker thread. This module is such
a file; point OpenRLHF at it and name the model in the environment:

    export REWARDLAB_MODEL=/path/to/my-rm          # required: a rewardlab model folder
    export REWARDLAB_AGGREGATE=uwo REWARDLAB_LAM=0.5   # optional: the ensemble rule (default mean)
    ... --reward.remote_url "$(python -c 'import rewardlab.integrations.openrlhf as m; print(m.__file__)')"

The answer is exactly what ``rewardlab serve``'s ``/get_reward`` answers for the same call
(rewards, scores, and the ensemble's std in ``extra_logs.reward_std``); the model loads once per
process, on the first call. For many concurrent rollouts, ``rewardlab serve`` batches across them
and this in-process function does not: each call is one model call (docs/serve.md measures what
batching buys).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

from rewardlab.errors import invalid
from rewardlab.serve.scorer import RewardScorer, ServeRules, openrlhf_answer, shared_scorer, split_queries

__all__ = ["reward_func", "scorer_from_environment"]

_lock = threading.Lock()  # one model call at a time: trainers call from many threads


def scorer_from_environment() -> RewardScorer:
    """The scorer named by ``REWARDLAB_MODEL`` (and ``REWARDLAB_AGGREGATE``, ``REWARDLAB_LAM``,
    ``REWARDLAB_CACHE_DIR``), loaded once per process (read on every call: a changed variable
    names another scorer)."""
    model = os.environ.get("REWARDLAB_MODEL")
    if not model:
        raise invalid("REWARDLAB_MODEL", "is not set: export REWARDLAB_MODEL=/path/to/a/rewardlab/model")
    try:
        lam = float(os.environ.get("REWARDLAB_LAM", "1.0"))
    except ValueError:
        raise invalid("REWARDLAB_LAM", f"must be a number, got {os.environ['REWARDLAB_LAM']!r}") from None
    rules = ServeRules(aggregate=os.environ.get("REWARDLAB_AGGREGATE", "mean"), lam=lam)
    return shared_scorer(model, rules, os.environ.get("REWARDLAB_CACHE_DIR") or False)


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None = None) -> dict:
    """OpenRLHF's ``reward_func`` contract: each query is its prompt followed by the response."""
    scorer = scorer_from_environment()
    responses = split_queries(list(queries), list(prompts), labels)
    with _lock:  # one model call at a time: OpenRLHF calls from many threads
        scores = scorer.score(list(prompts), responses)
    return openrlhf_answer(scores)
