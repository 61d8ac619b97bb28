"""Preference losses over the rewards of chosen and rejected responses.

- ``bt``: Bradley-Terry, ``-log sigma(r_c - r_r)``.
- ``margin``: hinge on the reward gap, ``max(0, m - (r_c - r_r))``.
- ``cls``: per-response classification, ``BCE(sigma(r_c), 1) + BCE(sigma(r_r), 0)``; the raw
  logit is the reward (Part I of Sun et al. finds it more robust to label noise than BT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("bt", "margin", "cls")


def preference_loss(name: str, r_chosen: torch.Tensor, r_rejected: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """The mean pairwise loss ``name`` over a batch: ``bt`` (Bradley-Terry, -log sigmoid of the
    margin), ``margin`` (hinge at ``margin``) or ``cls`` (chosen as 1, rejected as 0)."""
    if name == "bt":
        return -F.logsigmoid(r_chosen - r_rejected).mean()
    if name == "margin":
        return F.relu(margin - (r_chosen - r_rejected)).mean()
    if name == "cls":
        return 0.5 * (
            F.binary_cross_entropy_with_logits(r_chosen, torch.ones_like(r_chosen))
            + F.binary_cross_entropy_with_logits(r_rejected, torch.zeros_like(r_rejected))
        )
    raise ValueError(f"loss: expected one of {', '.join(LOSSES)}, got {name!r}")
