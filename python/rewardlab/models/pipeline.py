"""The train / evaluate / score workflow shared by the CLI and the demo: pairs in, numbers out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from rewardlab.data.best_of_n import BonSet
from rewardlab.data.pairs import PreferencePair, dialogue_texts, pair_fingerprint
from rewardlab.data.splits import Split, split_of
from rewardlab.embed import embed_texts, get_embedder
from rewardlab.errors import invalid
from rewardlab.models.ensemble import aggregate
from rewardlab.models.reward_model import RewardModel
from rewardlab.models.training import PairFeatures, TrainConfig, train_ensemble


@dataclass
class Timer:
    """Wall-clock seconds per named stage, in order."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, started: float) -> None:
        """Adds the seconds since ``started`` to stage ``name``."""
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


CHUNK_PAIRS = 2048  # pairs read, embedded and scored at a time by the streaming paths


def chunks(items: Iterable, size: int = CHUNK_PAIRS) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    it = iter(items)
    while block := list(islice(it, size)):
        yield block


def stream_split_features(
    pairs: Callable[[], Iterable[PreferencePair]],
    embedders: Sequence[str],
    split: dict,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
    context: str = DEFAULT_CONTEXT,
) -> tuple[dict[str, PairFeatures], dict[str, PairFeatures] | None, dict[str, int], np.ndarray]:
    """Train and dev features of a stream of pairs, split by prompt on the fly (``split``: dev,
    test, salt); ``pairs`` makes the stream and is called twice.

    The first pass only parses, to count each split; the second embeds chunk by chunk straight
    into arrays of exactly that size. Only the embeddings are kept, never the texts, and nothing
    is concatenated: memory is the train and dev features plus one chunk. (Collecting blocks and
    joining them had cost twice the features: freed blocks stay in the C heap.) Test pairs are
    counted and dropped. Also returns the fingerprints of the train and dev pairs."""
    def which(p: PreferencePair) -> str:
        return split_of(p.group, split["dev"], split["test"], split["salt"])

    sizes = {"train": 0, "dev": 0, "test": 0}
    for p in pairs():
        sizes[which(p)] += 1
    if not sizes["train"]:
        raise invalid("data", "the training split is empty (too few distinct prompts?)")
    feats: dict[str, dict[str, np.ndarray]] = {"train": {}, "dev": {}}
    filled = {"train": 0, "dev": 0}
    seen = np.empty((sizes["train"] + sizes["dev"], 8), np.uint8)  # fingerprints of what trains
    for block in chunks(pairs()):
        by_split: dict[str, list[PreferencePair]] = {"train": [], "dev": []}
        for p in block:
            if (name := which(p)) != "test":
                by_split[name].append(p)
        for name, kept in by_split.items():
            if not kept:
                continue
            at = filled[name]
            if at + len(kept) > sizes[name]:
                raise invalid("data", "the data changed while it was read (a file was written to during training)")
            for e in embedders:
                f = pair_features(kept, e, cache_dir, progress, context)
                if e not in feats[name]:
                    feats[name][e] = np.empty((2, sizes[name], f.chosen.shape[1]), np.float32)
                feats[name][e][0, at : at + len(kept)] = f.chosen
                feats[name][e][1, at : at + len(kept)] = f.rejected
            base = at if name == "train" else sizes["train"] + at
            seen[base : base + len(kept)] = fingerprints(kept)
            filled[name] = at + len(kept)
    if filled != {"train": sizes["train"], "dev": sizes["dev"]}:
        raise invalid("data", "the data changed while it was read (a file was written to during training)")

    def features(name: str) -> dict[str, PairFeatures]:
        return {e: PairFeatures(chosen=both[0], rejected=both[1]) for e, both in feats[name].items()}

    return features("train"), (features("dev") if sizes["dev"] else None), sizes, seen


def fingerprints(pairs: Sequence[PreferencePair]) -> np.ndarray:
    """uint8 ``[n, 8]``: :func:`~rewardlab.data.pair_fingerprint` of each pair."""
    return np.frombuffer(b"".join(pair_fingerprint(p) for p in pairs), np.uint8).reshape(len(pairs), 8)


def unseen(model: RewardModel, pairs: Iterable[PreferencePair], excluded: list[int]) -> Iterator[PreferencePair]:
    """The pairs ``model`` did not train or early-stop on, by content; ``excluded[0]`` counts the rest."""
    seen = model.seen()
    for p in pairs:
        if pair_fingerprint(p) in seen:
            excluded[0] += 1
        else:
            yield p


def fit_model(
    train: dict[str, PairFeatures],
    dev: dict[str, PairFeatures] | None,
    embedders: Sequence[str],
    config: TrainConfig,
    members: int,
    sizes: dict[str, int],
    meta: dict | None = None,
    context: str = DEFAULT_CONTEXT,
    seen: np.ndarray | None = None,
) -> RewardModel:
    """The ensemble trained on embedded pairs, with the record a model file keeps (``seen``: the
    fingerprints of the train and dev pairs)."""
    trained = train_ensemble(train, dev, config, members=members, embedders=list(embedders))
    info = dict(meta or {})
    info.update({"train_config": config.to_dict(), "split_sizes": sizes, "text_context": context})
    return RewardModel(members=trained, meta=info, seen_pairs=seen)


def score_stream(
    model: RewardModel, pairs: Iterable[PreferencePair], cache_dir=None, progress=None
) -> Iterator[tuple[list[PreferencePair], np.ndarray, np.ndarray]]:
    """``(pairs, chosen [K, n], rejected [K, n])`` chunk by chunk: memory stays one chunk."""
    for block in chunks(pairs):
        chosen, rejected = score_pairs(model, block, cache_dir, progress)
        yield block, chosen, rejected


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
    """An ensemble trained on in-memory pairs already split by prompt (the demo's path; the CLI
    streams with :func:`stream_split_features` and :func:`fit_model`)."""
    if not split.train:
        raise invalid("data", "the training split is empty (too few distinct prompts?)")
    timer = timer or Timer()
    t = time.perf_counter()
    context = (meta or {}).get("text_context", DEFAULT_CONTEXT)
    train = {e: pair_features(split.train, e, cache_dir, progress, context) for e in embedders}
    dev = {e: pair_features(split.dev, e, cache_dir, progress, context) for e in embedders} if split.dev else None
    timer.add("embed", t)
    t = time.perf_counter()
    seen = fingerprints(list(split.train) + list(split.dev))
    model = fit_model(train, dev, embedders, config, members, split.sizes(), meta, context, seen)
    timer.add("train", t)
    return model


def score_pairs(model: RewardModel, pairs: Sequence[PreferencePair], cache_dir=None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Member scores ``[K, N]`` of the chosen and of the rejected responses."""
    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    feats = {e: pair_features(pairs, e, cache_dir, progress, context) for e in model.embedders}
    chosen = model.score_features({e: f.chosen for e, f in feats.items()})
    rejected = model.score_features({e: f.rejected for e, f in feats.items()})
    return chosen, rejected


def pair_outcomes(model: RewardModel, pairs: Sequence[PreferencePair], cache_dir=None, progress=None) -> np.ndarray:
    """Per pair, whether the ensemble's mean ranks the chosen response higher: 1, ½ for a tie, 0."""
    from rewardlab.models.baselines import outcomes
    from rewardlab.models.ensemble import aggregate

    chosen, rejected = score_pairs(model, pairs, cache_dir, progress)
    return outcomes(aggregate(chosen, "mean").value, aggregate(rejected, "mean").value)


def score_candidates(model: RewardModel, bon: BonSet, cache_dir=None, progress=None, method: str = "mean",
                     **kwargs) -> np.ndarray:
    """``r_U`` ``[P, N]``: every candidate's ensemble score by the aggregation rule ``method``
    (``mean``, ``min``, ``median``, ``uwo`` with ``lam``...; see :func:`aggregate`)."""
    members = score_members(model, bon.prompts, bon.candidates, cache_dir, progress)
    return aggregate(members, method, **kwargs).value.astype(np.float64).reshape(bon.gold.shape)


def score_members(model: RewardModel, prompts: Sequence[str], responses: Sequence[Sequence[str]], cache_dir=None, progress=None) -> np.ndarray:
    """Per-member scores ``[K, total responses]`` of every prompt's responses, flattened in order."""
    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    return model.score_texts(dialogue_texts(prompts, responses, context), cache_dir=cache_dir, progress=progress)
