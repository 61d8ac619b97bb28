"""What the reward service computes, free of HTTP: a batch of (prompt, response) items in, per-item
rewards out; the groups of one request in, shaped rewards and the teacher diagnostic out.

The server and offline scoring run this same code, so a reward served over HTTP is the reward
``rewardlab score`` writes for the same text (up to the float32 rounding of a different batch
composition inside the embedder).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from rewardlab.data.pairs import dialogue_text
from rewardlab.diagnostics.teacher import reward_variance
from rewardlab.embed import get_embedder, tokens_read
from rewardlab.errors import invalid
from rewardlab.fastslow.gate import agreement
from rewardlab.models.ensemble import aggregate
from rewardlab.models.evaluate import CLI_RULES
from rewardlab.models.pipeline import DEFAULT_CONTEXT
from rewardlab.models.reward_model import RewardModel
from rewardlab.shaping.stackelberg import shape_rewards

SERVE_SHAPINGS = ("none", "stackelberg")


def split_queries(queries: Sequence[str], prompts: Sequence[str], labels: Sequence | None = None) -> list[str]:
    """The responses of OpenRLHF's queries: each query is its prompt followed by the response. A
    query that does not start with its prompt is refused: guessing where the response starts
    would score the wrong text without saying so."""
    if len(prompts) != len(queries):
        raise invalid("prompts", f"expected {len(queries)} prompts (one per query), got {len(prompts)}")
    if labels is not None and len(labels) != len(queries):
        raise invalid("labels", f"expected {len(queries)} labels (one per query), got {len(labels)}")
    responses = []
    for i, (query, prompt) in enumerate(zip(queries, prompts)):
        if not query.startswith(prompt):
            raise invalid(f"query[{i}]", f"does not start with prompts[{i}]; each query must be its prompt followed by the response")
        responses.append(query[len(prompt):])
    return responses


def openrlhf_answer(scores: "BatchScores") -> dict:
    """OpenRLHF's reward answer: rewards, the same as scores, and the members' std in extra_logs."""
    rewards = finite_or_none(scores.reward)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {"reward_std": finite_or_none(scores.std)}}


def finite_or_none(values: np.ndarray) -> list[float | None]:
    """JSON numbers, with None where a value is not finite (JSON has no NaN)."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, np.float64).tolist()]


@dataclass(frozen=True)
class ServeRules:
    """How member scores become the served reward, and how groups are shaped and flagged.

    ``aggregate``/``lam``: the ensemble rule (``uwo`` is ``mean − lam·std``). ``shaping``:
    ``stackelberg`` shapes each group with ``B·σ(r − m*)`` at KL strength ``beta`` (with the
    paper's CD caps: ``B`` clipped to twice the group's range, ``B/β`` capped at 2 inside ``F``).
    ``flat_var``: a group whose reward variance is below it is flagged flat (it teaches nothing)."""

    aggregate: str = "mean"
    lam: float = 1.0
    shaping: str = "none"
    beta: float = 1.0
    B: float = 15.0
    flat_var: float = 1e-3

    def __post_init__(self) -> None:
        if self.aggregate not in CLI_RULES:
            raise invalid("aggregate", f"expected one of {', '.join(CLI_RULES)}, got {self.aggregate!r}")
        if self.shaping not in SERVE_SHAPINGS:
            raise invalid("shaping", f"expected one of {', '.join(SERVE_SHAPINGS)}, got {self.shaping!r}")
        for name in ("beta", "B"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise invalid(name, f"must be a positive number, got {getattr(self, name)}")
        if not (np.isfinite(self.lam) and self.lam >= 0):
            raise invalid("lam", f"must be a number >= 0, got {self.lam}")
        if not (np.isfinite(self.flat_var) and self.flat_var >= 0):
            raise invalid("flat_var", f"must be a number >= 0, got {self.flat_var}")

    def aggregation(self) -> tuple[str, dict]:
        """The method and keyword arguments of :func:`rewardlab.models.ensemble.aggregate`."""
        method, kw = CLI_RULES[self.aggregate]
        return method, ({**kw, "lam": self.lam} if "lam" in kw else dict(kw))


@dataclass
class BatchScores:
    """Per item of a batch: the served reward, the members' std, each member's score ``[K, n]`` and
    the tokens the embedders read. Sliceable: ``scores[a:b]`` is the scores of items ``a..b``."""

    reward: np.ndarray
    std: np.ndarray
    members: np.ndarray
    tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.reward)

    def __getitem__(self, part: slice) -> "BatchScores":
        return BatchScores(self.reward[part], self.std[part], self.members[:, part], self.tokens[part])


@dataclass
class GroupScores:
    """The groups of one request, in first-seen order."""

    keys: list[Hashable]
    members: list[np.ndarray]  # per group: the indices of its items in the request
    shaped: list[np.ndarray]  # per group: its shaped rewards (the raw rewards when shaping is "none")
    variance: np.ndarray  # [G] unbiased variance of the group's rewards (NaN for a group of one)
    flat: np.ndarray  # [G] bool: variance below ServeRules.flat_var
    confidence: np.ndarray  # [n] members' agreement on each item's advantage (NaN outside groups of 2+)
    advantage: np.ndarray  # [n] members' mean advantage: score minus the group's mean (NaN outside groups of 2+)


class RewardScorer:
    """A reward model and the rules it is served with."""

    def __init__(self, model: RewardModel, rules: ServeRules | None = None, cache_dir: str | Path | bool | None = None,
                 batch_size: int = 64) -> None:
        self.model, self.rules, self.cache_dir = model, rules or ServeRules(), cache_dir
        self.batch_size = int(batch_size)
        self.context = model.meta.get("text_context", DEFAULT_CONTEXT)
        self._method, self._kw = self.rules.aggregation()

    @classmethod
    def load(cls, model_dir: str | Path, rules: ServeRules | None = None, cache_dir: str | Path | bool | None = None,
             batch_size: int = 64) -> "RewardScorer":
        """The scorer of the model folder ``model_dir``; its embedders are loaded now, not on the
        first request."""
        scorer = cls(RewardModel.load(model_dir), rules, cache_dir, batch_size)
        for spec in scorer.model.embedders:
            get_embedder(spec)
        return scorer

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> BatchScores:
        """Scores one batch. The texts embedded are the model's own dialogue texts (its
        ``text_context``), exactly as ``rewardlab score`` builds them."""
        if len(prompts) != len(responses):
            raise invalid("responses", f"expected {len(prompts)} responses (one per prompt), got {len(responses)}")
        texts = [dialogue_text(p, r, self.context) for p, r in zip(prompts, responses)]
        if not texts:
            k = len(self.model.members)
            return BatchScores(np.zeros(0), np.zeros(0), np.zeros((k, 0), np.float32), np.zeros(0))
        members = self.model.score_texts(texts, cache_dir=self.cache_dir, batch_size=self.batch_size, progress=False)
        agg = aggregate(members, self._method, **self._kw)
        tokens = sum(tokens_read(get_embedder(e), texts) for e in self.model.embedders)
        return BatchScores(agg.value, agg.std, members, np.asarray(tokens, np.float64))

    def groups(self, keys: Sequence[Hashable | None], scores: BatchScores) -> GroupScores:
        """Shaped rewards, reward variance and the flat flag of each group; ``None`` keys belong to
        no group. Confidence of an item: ``|mean| / (|mean| + std)`` over the members of its
        advantage (its score minus the member's mean over the group), the quantity GRPO trains on;
        1 when every member agrees on it, 0 when they cancel out."""
        if len(keys) != len(scores):
            raise invalid("groups", f"expected {len(scores)} group keys, got {len(keys)}")
        index: dict[Hashable, list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None:
                index.setdefault(key, []).append(i)
        names = list(index)
        members = [np.asarray(index[k], np.int64) for k in names]
        confidence = np.full(len(scores), np.nan)
        advantage = np.full(len(scores), np.nan)
        if not names:
            return GroupScores([], [], [], np.zeros(0), np.zeros(0, bool), confidence, advantage)
        order = np.concatenate(members)
        offsets = np.concatenate([[0], np.cumsum([len(m) for m in members])]).astype(np.int64)
        rewards = np.asarray(scores.reward, np.float64)[order]
        variance = reward_variance(rewards, offsets, normalise=False)
        if self.rules.shaping == "stackelberg":
            shaped = shape_rewards(rewards, offsets, "stackelberg", beta=self.rules.beta, B=self.rules.B,
                                   exponent_cap=2.0, range_factor=2.0)
        else:
            shaped = rewards
        for rows in members:
            if len(rows) > 1:
                adv = scores.members[:, rows].astype(np.float64)
                adv -= adv.mean(axis=1, keepdims=True)
                confidence[rows] = agreement(adv)
                advantage[rows] = adv.mean(axis=0)
        split = [shaped[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        flat = np.where(np.isnan(variance), False, variance < self.rules.flat_var)
        return GroupScores(names, members, split, variance, flat, confidence, advantage)


_shared_lock = threading.Lock()
_shared: dict[tuple, RewardScorer] = {}


def shared_scorer(model_dir: str | Path, rules: ServeRules | None = None,
                  cache_dir: str | Path | bool | None = False) -> RewardScorer:
    """One scorer per (model folder, rules, cache) and process: what the in-process trainer
    integrations call on every batch, so that the model and its embedders load on the first call
    only, also when several threads make it at once."""
    rules = rules or ServeRules()
    key = (str(Path(model_dir).resolve()), rules, str(cache_dir))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RewardScorer.load(model_dir, rules, cache_dir)
        return _shared[key]
