"""Simulated annotators: preference labels drawn from a golden reward, with controlled noise.

The protocol of Sun et al. (2025), after Part I of their series: an annotator of quality ``q``
prefers response 1 to response 2 with probability ``sigmoid(q * (r1 - r2) / scale)``, where ``r``
is the golden reward and ``scale`` its standard deviation (their ``utils.pair_annotate``; their
training script instead fixes it per task, 6 for helpful and 1 for harmless, which ``scale``
accepts). ``q = inf`` is a perfect annotator. Pairs are drawn within a prompt (``same``) or across
prompts (``cross``: a response of prompt i against a response of another prompt, the default of
their training script; Part I finds it better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rewardlab.errors import invalid

__all__ = ["PAIRINGS", "Annotations", "annotate"]

PAIRINGS = ("same", "cross")


@dataclass(frozen=True)
class Annotations:
    """Annotated pairs as (prompt, response) positions, the preferred one first."""

    winner: np.ndarray  # [M, 2] int64: (prompt, response)
    loser: np.ndarray  # [M, 2]
    quality: float
    scale: float
    noise_rate: float  # share of pairs (golden ties left out) whose label contradicts the golden reward
    expected_noise_rate: float  # what the annotator model predicts for these pairs: mean sigmoid(-q|dr|/scale)

    def __len__(self) -> int:
        return len(self.winner)


def _draw_pairs(prompts: int, responses: int, pairing: str, per_prompt: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p = np.repeat(np.arange(prompts), per_prompt)
    i = rng.integers(0, responses, len(p))
    if pairing == "same":
        j = (i + rng.integers(1, responses, len(p))) % responses  # any other response of the prompt
        return np.stack([p, i], 1), np.stack([p, j], 1)
    other = (p + rng.integers(1, prompts, len(p))) % prompts  # any other prompt
    return np.stack([p, i], 1), np.stack([other, rng.integers(0, responses, len(p))], 1)


def annotate(gold: np.ndarray, quality: float, *, pairing: str = "cross", pairs_per_prompt: int = 1,
             scale: float | None = None, seed: int = 0) -> Annotations:
    """``pairs_per_prompt`` labelled pairs per prompt of ``gold`` ``[P, R]`` (see module doc)."""
    gold = np.asarray(gold, np.float64)
    if gold.ndim != 2 or not np.isfinite(gold).all():
        raise invalid("gold", f"must be finite [prompts, responses], got shape {list(gold.shape)}")
    if pairing not in PAIRINGS:
        raise invalid("pairing", f"expected one of {', '.join(PAIRINGS)}, got {pairing!r}")
    if pairing == "same" and gold.shape[1] < 2:
        raise invalid("pairing", "same-prompt pairs need at least 2 responses per prompt")
    if pairing == "cross" and gold.shape[0] < 2:
        raise invalid("pairing", "cross-prompt pairs need at least 2 prompts")
    if isinstance(pairs_per_prompt, bool) or not isinstance(pairs_per_prompt, int) or pairs_per_prompt < 1:
        raise invalid("pairs_per_prompt", f"must be a positive integer, got {pairs_per_prompt!r}")
    if isinstance(quality, bool) or not quality > 0:  # NaN and -inf fail too
        raise invalid("quality", f"must be positive (inf: a perfect annotator), got {quality!r}")
    if scale is None:
        scale = float(gold.std())
    if not (math.isfinite(scale) and scale > 0):
        raise invalid("scale", f"must be positive and finite (the golden rewards' std by default), got {scale!r}")
    rng = np.random.default_rng(seed)
    a, b = _draw_pairs(gold.shape[0], gold.shape[1], pairing, pairs_per_prompt, rng)
    diff = gold[a[:, 0], a[:, 1]] - gold[b[:, 0], b[:, 1]]
    if math.isinf(quality):
        first_wins = np.where(diff == 0, rng.random(len(diff)) < 0.5, diff > 0)
    else:
        p_first = 0.5 * (1.0 + np.tanh(0.5 * quality * diff / scale))  # sigmoid, without overflow
        first_wins = rng.random(len(diff)) < p_first
    winner = np.where(first_wins[:, None], a, b)
    loser = np.where(first_wins[:, None], b, a)
    decided = diff != 0
    wrong = (first_wins != (diff > 0)) & decided
    n = int(decided.sum())
    if math.isinf(quality):
        expected = 0.0
    else:
        expected = float(np.mean(0.5 * (1.0 - np.tanh(0.5 * quality * np.abs(diff[decided]) / scale)))) if n else float("nan")
    return Annotations(winner=winner.astype(np.int64), loser=loser.astype(np.int64), quality=float(quality),
                       scale=float(scale), noise_rate=float(wrong.sum() / n) if n else float("nan"),
                       expected_noise_rate=expected)
