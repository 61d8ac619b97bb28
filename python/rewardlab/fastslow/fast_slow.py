"""Fast-slow reward scoring (F/S-RM): a cheap fast score for every item, a slow chain-of-thought
judgement only where the dual-confidence gate says the fast score cannot be trusted.

The fast path is an LM judge's first token (``lm_fast_scores``) or an embedding-ensemble reward
model (``ensemble_fast_scores``: its mean margin and the members' agreement are the two
confidences); the slow path is the LM judge's chain of thought (``LMJudge.slow``).
``FastSlowJudge`` runs fast on every item and slow on the gated ones; an unparseable slow verdict
falls back to the fast score and is counted. The experiment that measures fast-only, slow-only and
gated judges is :mod:`rewardlab.studies.fastslow`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rewardlab.data.pairs import PreferencePair, dialogue_text
from rewardlab.data.splits import unit_hash
from rewardlab.errors import invalid
from rewardlab.fastslow.gate import Gate, agreement, intuition, shape_confidence
from rewardlab.fastslow.judge import JudgeItem, LMJudge


@dataclass
class FastScores:
    """A fast path's output on ``n`` items: log-odds that ``a`` beats ``b`` and its confidences."""

    name: str
    score: np.ndarray
    c1: np.ndarray
    c2: np.ndarray | None
    tokens: np.ndarray  # [n] tokens the fast path read and produced per item
    seconds: float = 0.0


def lm_fast_scores(judge: LMJudge, items: Sequence[JudgeItem], shape: str = "mass", progress=None) -> FastScores:
    """Fast scores from the LM judge's first token: the verdict log-odds, its confidence
    (intuition) and the second confidence chosen by ``shape`` (see :mod:`rewardlab.fastslow.gate`)."""
    f = judge.fast(items, progress)
    c2 = shape_confidence(f.mass, f.top2_gap, f.entropy, shape)
    return FastScores(f"lm-first-token[{judge.config.mode}]", f.score, intuition(f.score), c2, f.tokens.astype(np.float64), f.seconds)


def ensemble_fast_scores(model, items: Sequence[JudgeItem], cache_dir=None, progress=None) -> FastScores:
    """An embedding-ensemble reward model as the fast path: ``score`` = the mean member margin
    ``r(a) − r(b)`` (a Bradley-Terry log-odds), ``c2`` = the members' agreement (None for a
    one-member model such as a sequence-classification reward model)."""
    from rewardlab.embed import get_embedder, tokens_read
    from rewardlab.models.pipeline import DEFAULT_CONTEXT

    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    texts = [dialogue_text(it.prompt, r, context) for it in items for r in (it.a, it.b)]
    started = time.perf_counter()
    scores = model.score_texts(texts, cache_dir=cache_dir, progress=progress).astype(np.float64)
    margins = scores[:, 0::2] - scores[:, 1::2]
    mean = margins.mean(axis=0)
    counts = np.zeros(len(texts))
    for e in model.embedders:
        counts += tokens_read(get_embedder(e), texts)
    tokens = counts[0::2] + counts[1::2]
    if len(margins) == 1:  # one reward model (e.g. hf:PATH) has no members to agree: the gate uses c1 alone
        return FastScores("reward-model", mean, intuition(mean), None, tokens, time.perf_counter() - started)
    return FastScores("embedding-ensemble", mean, intuition(mean), agreement(margins), tokens, time.perf_counter() - started)


@dataclass
class GatedVerdicts:
    verdict: np.ndarray  # [n] +1 (a better), −1 (b better), 0 (tie)
    slow: np.ndarray  # [n] bool: routed to the slow path
    fallback: np.ndarray  # [n] bool: routed, but the slow verdict was unparseable: the fast one stands
    fast_tokens: np.ndarray
    slow_tokens: np.ndarray  # 0 where not routed
    seconds: float

    @property
    def tokens(self) -> np.ndarray:
        """Tokens spent per item: the fast path's plus the slow path's (0 where not routed)."""
        return self.fast_tokens + self.slow_tokens


class FastSlowJudge:
    """Fast scores for all items, the slow LM judge for the ones the gate routes.

    ``fast`` is ``"lm"`` (the slow judge's own first token, as in F/S-RM) or an embedding-ensemble
    ``RewardModel``; ``shape`` picks the LM's second confidence (see ``rewardlab.fastslow.gate``).
    """

    def __init__(self, slow_judge: LMJudge, gate: Gate | None = None, fast="lm", shape: str = "mass", cache_dir=None) -> None:
        self.slow_judge, self.gate, self.fast, self.shape, self.cache_dir = slow_judge, gate, fast, shape, cache_dir

    def fast_scores(self, items: Sequence[JudgeItem], progress=None) -> FastScores:
        """Fast scores and both confidences of ``items`` from the configured fast path."""
        if isinstance(self.fast, str):
            if self.fast != "lm":
                raise invalid("fast", f"expected 'lm' or a RewardModel, got {self.fast!r}")
            return lm_fast_scores(self.slow_judge, items, self.shape, progress)
        return ensemble_fast_scores(self.fast, items, self.cache_dir, progress)

    def calibrate(self, dev: Sequence[JudgeItem], *, slow_rate: float | None = None, token_budget: float | None = None,
                  progress=None) -> Gate:
        """Thresholds from dev items, without running the slow path on them: for a token budget the
        slow cost of an item is its slow prompt plus ``max_new_tokens`` (the most it can spend)."""
        f = self.fast_scores(dev, progress)
        slow_cost = None
        if token_budget is not None:
            cap = self.slow_judge.config.max_new_tokens
            j = self.slow_judge
            shared = isinstance(self.fast, str)
            slow_cost = np.array([len(j.slow_prompt(it)) - (j.shared_prefix(it) if shared else 0) + cap for it in dev], np.float64)
        self.gate = Gate.calibrate(f.c1, f.c2, slow_rate=slow_rate, token_budget=token_budget,
                                   fast_tokens=f.tokens, slow_tokens=slow_cost)
        return self.gate

    def judge(self, items: Sequence[JudgeItem], progress=None) -> GatedVerdicts:
        """Verdicts (+1: ``a`` wins, -1: ``b``, 0: tie) of ``items``: fast everywhere, slow where the
        gate routes; an unparseable slow verdict keeps the fast one and is flagged in ``fallback``."""
        if self.gate is None:
            raise invalid("gate", "no gate: pass one or call calibrate() on dev items first")
        started = time.perf_counter()
        f = self.fast_scores(items, progress)
        routed = self.gate.route(f.c1, f.c2)
        verdict = np.sign(f.score).astype(np.int64)
        fallback = np.zeros(len(items), bool)
        slow_tokens = np.zeros(len(items))
        idx = np.flatnonzero(routed)
        if len(idx):
            s = self.slow_judge.slow([items[int(i)] for i in idx], progress)
            ok = s.verdict != 0
            verdict[idx[ok]] = s.verdict[ok]
            fallback[idx[~ok]] = True
            # After the LM's own fast pass the slow path continues the same sequence.
            slow_tokens[idx] = s.tokens_after_fast if isinstance(self.fast, str) else s.tokens
        return GatedVerdicts(verdict, routed, fallback, f.tokens, slow_tokens, time.perf_counter() - started)


def pairs_to_items(pairs: Sequence[PreferencePair], salt: str = "judge") -> tuple[list[JudgeItem], np.ndarray]:
    """Items with the chosen reply shown as ``a`` for about half of the pairs (a fixed hash of the
    pair decides), and ``label`` = +1 where ``a`` is the chosen reply, −1 where it is ``b``."""
    items, label = [], []
    for p in pairs:
        swap = unit_hash(f"{p.group}|{p.source}|{p.line}|{p.chosen[:64]}", salt) < 0.5
        items.append(JudgeItem(p.prompt, p.rejected, p.chosen) if swap else JudgeItem(p.prompt, p.chosen, p.rejected))
        label.append(-1 if swap else 1)
    return items, np.array(label)


def correctness(verdict: np.ndarray, label: np.ndarray) -> np.ndarray:
    """1 where the verdict agrees with the label, 0.5 for a tie (verdict 0), 0 otherwise."""
    v = np.sign(verdict)
    return np.where(v == 0, 0.5, (v == label).astype(np.float64))
