"""Small torch reward heads over frozen embeddings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class HeadConfig:
    """An MLP ``dim -> hidden... -> 1`` with ReLU and dropout (hidden=() is a linear head)."""

    dim: int
    hidden: tuple[int, ...] = (256,)
    dropout: float = 0.1

    def to_dict(self) -> dict:
        """The head's shape as plain JSON values (stored in the model file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "HeadConfig":
        """The config that :meth:`to_dict` wrote."""
        return cls(dim=int(d["dim"]), hidden=tuple(int(h) for h in d["hidden"]), dropout=float(d["dropout"]))


class MLPHead(nn.Module):
    """Scalar reward of one embedded (prompt, response)."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.dim
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config.dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[N]`` of embeddings ``x`` ``[N, D]``."""
        return self.net(x).squeeze(-1)


@dataclass
class Member:
    """One ensemble member: a head, the embedder it reads, and the affine map that puts its
    raw scores on a common scale (mean 0, std 1 over its training responses) so that members
    can be compared and aggregated item by item."""

    embedder: str
    head: MLPHead
    offset: float = 0.0
    scale: float = 1.0
    info: dict = field(default_factory=dict)

    @torch.inference_mode()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised scores ``[N]`` (the member's training offset and scale removed), no gradients."""
        self.head.eval()
        return (self.head(x) - self.offset) / self.scale
