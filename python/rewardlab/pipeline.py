"""The train / evaluate / score workflow shared by the CLI and the demo: pairs in, numbers out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab.data import PreferencePair, Split, load_many, split_by_prompt
from rewardlab.embed import embed_texts, get_embedder
from rewardlab.errors import invalid
from rewardlab.evaluate import DEFAULT_RULES, ensemble_accuracy
from rewardlab.models import PairFeatures, RewardModel, TrainConfig, train_ensemble


@dataclass
class Timer:
    """Wall-clock seconds per named stage, in order."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, started: float) -> None:
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started


DEFAULT_CONTEXT = "last_turn"


def pair_features(
    pairs: Sequence[PreferencePair],
    embedder: str,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
    context: str = DEFAULT_CONTEXT,
) -> PairFeatures:
    """Embeds chosen and rejected dialogues of ``pairs`` in one cached pass."""
    texts = [t for p in pairs for t in p.texts(context)]
    vectors = embed_texts(get_embedder(embedder), texts, cache_dir=cache_dir, progress=progress)
    return PairFeatures(chosen=vectors[0::2], rejected=vectors[1::2])


def train_model(
    split: Split,
    embedders: Sequence[str],
    config: TrainConfig,
    members: int,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
    timer: Timer | None = None,
    meta: dict | None = None,
) -> RewardModel:
    if not split.train:
        raise invalid("data", "the training split is empty (too few distinct prompts?)")
    timer = timer or Timer()
    t = time.perf_counter()
    context = (meta or {}).get("text_context", DEFAULT_CONTEXT)
    train = {e: pair_features(split.train, e, cache_dir, progress, context) for e in embedders}
    dev = {e: pair_features(split.dev, e, cache_dir, progress, context) for e in embedders} if split.dev else None
    timer.add("embed", t)
    t = time.perf_counter()
    trained = train_ensemble(train, dev, config, members=members, embedders=list(embedders))
    timer.add("train", t)
    info = dict(meta or {})
    info.update({"train_config": config.to_dict(), "split_sizes": split.sizes(), "text_context": context})
    return RewardModel(members=trained, meta=info)


def score_pairs(model: RewardModel, pairs: Sequence[PreferencePair], cache_dir=None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Member scores ``[K, N]`` of the chosen and of the rejected responses."""
    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    feats = {e: pair_features(pairs, e, cache_dir, progress, context) for e in model.embedders}
    chosen = model.score_features({e: f.chosen for e, f in feats.items()})
    rejected = model.score_features({e: f.rejected for e, f in feats.items()})
    return chosen, rejected


def evaluate_pairs(model: RewardModel, pairs: Sequence[PreferencePair], cache_dir=None, progress=None, rules=DEFAULT_RULES) -> dict:
    chosen, rejected = score_pairs(model, pairs, cache_dir, progress)
    return ensemble_accuracy(chosen, rejected, rules)


def load_split(paths: Sequence[str], dev: float, test: float, salt: str, strict: bool):
    pairs, reports = load_many(paths, strict=strict)
    return pairs, reports, split_by_prompt(pairs, dev=dev, test=test, salt=salt)
