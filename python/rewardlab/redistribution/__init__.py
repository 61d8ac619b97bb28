"""RREDCoT: segment-level reward redistribution for chain-of-thought responses.

- :mod:`~rewardlab.redistribution.rredcot`: segmentation (delimiters, forking tokens), importance-
  sampling state values from the policy's own log-probabilities, return-equivalent segment
  rewards and their spreading onto tokens (kernels: ``rust/core/src/redistribution/``).
- :mod:`~rewardlab.redistribution.prefix_values`: the log-probabilities those values need, from a
  causal LM (no generation), and Monte Carlo rollouts to compare against.
- :mod:`~rewardlab.redistribution.traces`: text traces (prompt, steps, answer) to credit.

As an advantage estimator inside an RL trainer it is :func:`rewardlab.credit.rredcot`. The
GSM8K credit maps and BIG-Bench Mistake localisation are :mod:`rewardlab.studies`.
"""

from rewardlab.redistribution.prefix_values import PrefixLM, TokenCount, completion_logprobs, monte_carlo_values, state_logprobs
from rewardlab.redistribution.rredcot import (
    Segments,
    log_value_is,
    redistribute,
    rredcot_token_rewards,
    segment,
    segments_from_boundaries,
    sequence_logprob,
    spread_to_tokens,
    value_is,
)
from rewardlab.redistribution.traces import PROPOSALS, StepCredit, StepTrace, credit_from_logprobs, step_credit, trace_logprobs

__all__ = [
    "PROPOSALS",
    "PrefixLM",
    "Segments",
    "StepCredit",
    "StepTrace",
    "TokenCount",
    "completion_logprobs",
    "credit_from_logprobs",
    "log_value_is",
    "monte_carlo_values",
    "redistribute",
    "rredcot_token_rewards",
    "segment",
    "segments_from_boundaries",
    "sequence_logprob",
    "spread_to_tokens",
    "state_logprobs",
    "step_credit",
    "trace_logprobs",
    "value_is",
]
