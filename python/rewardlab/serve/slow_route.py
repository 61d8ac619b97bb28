"""The fast-slow route of the reward service: a generative judge for the grouped items whose
advantage the ensemble is least sure of.

An RL trainer needs, per group of samples of one prompt, the sign and size of each sample's
advantage. The ensemble gives it fast, with two confidences per item, the same two the fast-slow
gate uses for pairs (``docs/fastslow.md``): ``c1 = |tanh(a/2)|`` of the members' mean advantage
``a`` (how far from the group's mean), and ``c2`` the members' agreement on it. Of each request's
grouped items, the share ``slow_rate`` with the lowest confidences (one common quantile level of
both, the gate's own calibration) goes to the judge's chain of thought, which compares the item
with its group's reference: the other sample whose reward is nearest the group's median (shown
first or second by a fixed coin flip per item, against the judge's position bias). Where the
judge's verdict contradicts the ensemble's order of the two, the item's reward is reflected across
the reference's, ``r' = r_ref + v·|r − r_ref|`` (``v`` = +1 when the judge prefers the item): the
judge decides the side, the ensemble keeps the size. An unparsed verdict leaves the fast reward.

This pointwise use of a pairwise judge is rewardlab's choice: F/S-RM publishes neither its
formulas nor a pointwise protocol (``../shared/reference/papers.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rewardlab.data.splits import unit_hash
from rewardlab.fastslow.gate import Gate, intuition
from rewardlab.fastslow.judge import JudgeItem, LMJudge
from rewardlab.serve.scorer import GroupScores

__all__ = ["SlowResult", "SlowRoute"]


@dataclass
class SlowResult:
    reward: np.ndarray  # [n] served rewards after the judge
    slow: np.ndarray  # [n] bool: judged
    verdict: np.ndarray  # [n] +1 / -1 (judge prefers the item / the reference), 0 unparsed or not judged
    reference: np.ndarray  # [n] index of the reference item, -1 where not judged
    tokens: np.ndarray  # [n] tokens the judge spent


@dataclass
class SlowRoute:
    judge: LMJudge
    slow_rate: float

    def routed(self, groups: GroupScores) -> np.ndarray:
        """Boolean ``[n]``: the grouped items the gate sends to the judge."""
        n = len(groups.advantage)
        candidates = np.flatnonzero(np.isfinite(groups.advantage))
        out = np.zeros(n, bool)
        if len(candidates) == 0 or self.slow_rate <= 0:
            return out
        c1, c2 = intuition(groups.advantage[candidates]), groups.confidence[candidates]
        gate = Gate.calibrate(c1, c2, slow_rate=self.slow_rate)
        out[candidates[gate.route(c1, c2)]] = True
        return out

    def apply(self, prompts: list[str], responses: list[str], reward: np.ndarray, groups: GroupScores) -> SlowResult:
        """Judges the routed items against their references and reflects the contradicted rewards."""
        n = len(reward)
        reward = np.asarray(reward, np.float64).copy()
        slow = self.routed(groups)
        verdict, reference, tokens = np.zeros(n, np.int64), np.full(n, -1), np.zeros(n)
        idx = np.flatnonzero(slow)
        if len(idx) == 0:
            return SlowResult(reward, slow, verdict, reference, tokens)
        group_of = {int(i): rows for rows in groups.members for i in rows}
        for i in idx:
            others = [int(j) for j in group_of[int(i)] if j != i]
            median = np.median(reward[group_of[int(i)]])
            reference[i] = min(others, key=lambda j: (abs(reward[j] - median), j))
        # which reply the judge sees first is a fixed coin flip per item: small judges favour a position
        swap = np.array([unit_hash(f"{prompts[i]}|{responses[i]}", "serve-judge") < 0.5 for i in idx])
        pairs = [(responses[reference[i]], responses[i]) if sw else (responses[i], responses[reference[i]])
                 for i, sw in zip(idx, swap)]
        s = self.judge.slow([JudgeItem(prompts[i], a, b) for i, (a, b) in zip(idx, pairs)])
        verdict[idx] = np.where(swap, -s.verdict, s.verdict)
        tokens[idx] = s.tokens
        fast = reward.copy()
        for i in idx:
            r, ref, v = fast[i], fast[reference[i]], verdict[i]
            if v != 0 and np.sign(r - ref) != v:
                reward[i] = ref + v * abs(r - ref)
        return SlowResult(reward, slow, verdict, reference, tokens)
