"""Scoring texts with a whole reward model on Ray Data workers (the embedding stage alone is
:mod:`rewardlab.embed.executors`): each actor loads the model and its embedders once."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rewardlab.embed.executors import RayExecutor
from rewardlab.errors import invalid


class ScoreStage:
    """Scores a batch ``{"index", "text"}`` with the reward model ``model`` (a folder or
    ``hf:PATH``) into ``{"index", "scores"}`` (``[n, K]`` member scores)."""

    def __init__(self, model: str, device: str | None = None, dtype: str | None = None, batch_size: int = 64) -> None:
        from rewardlab.devices import set_default
        from rewardlab.models import RewardModel

        set_default(device or "auto", dtype or "auto")  # this worker's placement, for the model's embedders
        self.model, self.batch_size = RewardModel.load(model), batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        scores = self.model.score_texts(texts, cache_dir=False, batch_size=self.batch_size, progress=False)
        return {"index": np.asarray(batch["index"], np.int64), "scores": np.ascontiguousarray(scores.T)}


def score_texts_on(executor: RayExecutor, model: str, texts: Sequence[str], device: str | None = None,
                   dtype: str | None = None) -> np.ndarray:
    """float32 ``[K, len(texts)]`` member scores of the reward model ``model`` (a folder or
    ``hf:PATH``, readable where the stage runs), computed by ``executor``'s workers."""
    from pathlib import Path

    texts = list(texts)
    model = str(model)  # workers may run elsewhere: an absolute path
    model = f"hf:{Path(model[3:]).resolve()}" if model.startswith("hf:") else str(Path(model).resolve())
    out: np.ndarray | None = None
    for batch in executor.run(ScoreStage, {"model": model, "device": device, "dtype": dtype}, texts):
        if out is None:
            out = np.empty((batch["scores"].shape[1], len(texts)), np.float32)
        out[:, batch["index"]] = batch["scores"].T
    if out is None:
        raise invalid("texts", "no texts to score")
    return out
