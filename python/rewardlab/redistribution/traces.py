"""RREDCoT segment credit for text traces whose steps are already given: the policy's own
log-probabilities give importance-sampled state values, and the outcome is redistributed over the
steps as value differences (``docs/redistribution.md``).

A :class:`StepTrace` is a prompt (``s_0``), its steps (segment texts, each carrying its trailing
separator so that ``s_k`` = prompt + first ``k`` steps), the outcome ``R`` and the completions the
values are estimated from. ``V̂(s_k) = (1/M) Σ_m π(c_m | s_k) / q(c_m) · U_m`` with one of two
proposals:

- ``"point"``: ``q`` puts all its mass on the given completions (``log q = 0``). With one correct
  completion and ``U = 1`` this is ``π(c* | s_k)``, the policy's probability of writing the
  correct answer from ``s_k``: a lower bound of the value, used when no group of sampled answers
  exists (BIG-Bench Mistake).
- ``"prompt"``: the completions were sampled from the policy at the prompt, ``q(c_m) = π(c_m |
  s_0)`` (the answers of a GRPO group). Then ``V̂(s_0)`` is exactly the group's mean utility, the
  GRPO baseline, so each trace's credit sums to ``R − mean(U)``: GRPO's unnormalised advantage,
  split over the steps. Later states reweight the group's answers by how much the prefix raised
  their probability; the estimate is unbiased on the answers the group covers but not bounded by
  1 (importance weights can be large).

``self_normalised=True`` divides by the summed importance weights instead of ``M`` (see
``credit_from_logprobs``). The LM work (``trace_logprobs``) is separate from the estimator, so
both estimators can be read from one set of forward passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from rewardlab.errors import invalid

PROPOSALS = ("point", "prompt")


@dataclass
class StepTrace:
    prompt: str
    steps: list[str]
    outcome: float
    completions: list[str]
    utility: np.ndarray = field(default_factory=lambda: np.ones(1))
    proposal: str = "point"

    def pieces(self) -> list[str]:
        """The texts whose prefixes are ``s_0 .. s_{K−1}`` (the last step only ends the trace)."""
        return [self.prompt, *self.steps[:-1]]


@dataclass
class StepCredit:
    """Per step, laid out by ``offsets`` (trace ``i`` owns ``offsets[i]:offsets[i+1]``):
    ``log_values[k] = log V̂(s_k)`` and ``credit[k] = r̃`` of step ``k``."""

    log_values: np.ndarray
    credit: np.ndarray
    offsets: np.ndarray
    outcome: np.ndarray

    def rows(self) -> Iterator[tuple[int, int]]:
        """Per trace, the (start, end) of its segments in the flat credit arrays."""
        return zip(self.offsets[:-1], self.offsets[1:])


def trace_logprobs(lm, traces: Sequence[StepTrace], progress: bool = False) -> list[np.ndarray]:
    """``log π(c_m | s_k)`` ``[K, M]`` per trace, from one shared-trace pass each
    (``prefix_values.state_logprobs``); repeated completions are scored once."""
    from rewardlab.redistribution.prefix_values import state_logprobs

    if not traces:
        raise invalid("traces", "give at least one trace")
    for i, t in enumerate(traces):
        if not t.steps:
            raise invalid("traces", f"trace {i} has no steps")
        if t.proposal not in PROPOSALS:
            raise invalid("proposal", f"trace {i}: expected one of {PROPOSALS}, got {t.proposal!r}")
        if len(t.utility) != len(t.completions):
            raise invalid("utility", f"trace {i}: {len(t.utility)} utilities for {len(t.completions)} completions")
    it = traces
    if progress:
        from tqdm import tqdm

        it = tqdm(traces, desc="prefix values", unit="trace")
    out = []
    for t in it:
        unique = list(dict.fromkeys(t.completions))
        per_unique = state_logprobs(lm, t.pieces(), unique)
        out.append(np.ascontiguousarray(per_unique[:, [unique.index(c) for c in t.completions]]))
    return out


def credit_from_logprobs(traces: Sequence[StepTrace], log_pis: Sequence[np.ndarray], self_normalised: bool = False) -> StepCredit:
    """The IS values (Rust ``log_value_is``) and their redistribution (Rust ``redistribute``).

    ``self_normalised`` divides by the sum of the importance weights instead of ``M``:
    ``V̂ = Σ w_m U_m / Σ w_m``, bounded by the utilities' range and blind to any factor that
    scales every completion's probability alike (such as how likely an answer line is at this
    point of the text), at the price of a bias that vanishes as ``M`` grows. With one completion
    it is ``U`` at every state, so it is refused there."""
    from rewardlab.redistribution.rredcot import log_value_is, redistribute

    log_v, offsets = [], [0]
    for i, (t, log_pi) in enumerate(zip(traces, log_pis)):
        log_q = np.ascontiguousarray(log_pi[0]) if t.proposal == "prompt" else np.zeros(log_pi.shape[1])
        u = np.asarray(t.utility, dtype=np.float64)
        v = log_value_is(log_pi, log_q, u)
        if self_normalised:
            if len(u) < 2:
                raise invalid("self_normalised", f"trace {i} has one completion; self-normalising needs several")
            total = log_value_is(log_pi, log_q, np.ones_like(u))
            v = np.where(np.isneginf(total), -np.inf, v - total)  # no completion possible: V̂ = 0
        log_v.append(v)
        offsets.append(offsets[-1] + len(t.steps))
    log_values = np.concatenate(log_v)
    offsets_arr = np.asarray(offsets, dtype=np.int64)
    outcome = np.array([float(t.outcome) for t in traces])
    credit = redistribute(np.exp(log_values), offsets_arr, outcome)
    return StepCredit(log_values, credit, offsets_arr, outcome)


def step_credit(lm, traces: Sequence[StepTrace], progress: bool = False, self_normalised: bool = False) -> StepCredit:
    """``trace_logprobs`` then ``credit_from_logprobs``."""
    return credit_from_logprobs(traces, trace_logprobs(lm, traces, progress), self_normalised)
