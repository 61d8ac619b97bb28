"""Training one reward head, and K of them as an ensemble."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from rewardlab.errors import invalid
from rewardlab.models.heads import HeadConfig, Member, MLPHead
from rewardlab.models.losses import LOSSES, preference_loss


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "bt"
    hidden: tuple[int, ...] = (256,)
    dropout: float = 0.1
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-3
    margin: float = 1.0
    patience: int = 8  # epochs without a better dev loss before stopping
    bootstrap: bool = True  # each member trains on a bootstrap resample of the training pairs
    seed: int = 0
    # where the heads train (rewardlab.devices; None: the process default). Heads always train
    # in float32 and come back to the CPU, where they score.
    device: str | None = None

    def validate(self) -> None:
        """Raises :class:`~rewardlab.errors.InvalidInputError` naming the first bad field."""
        if self.device is not None:
            from rewardlab.devices import check_device

            check_device(self.device)
        if self.loss not in LOSSES:
            raise invalid("loss", f"expected one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise invalid(name, f"must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "margin"):
            if not getattr(self, name) > 0:
                raise invalid(name, f"must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise invalid("dropout", f"must be in [0, 1), got {self.dropout}")
        if self.weight_decay < 0:
            raise invalid("weight_decay", f"must be >= 0, got {self.weight_decay}")

    def to_dict(self) -> dict:
        """The config as plain JSON values (stored in the model file)."""
        return asdict(self)


@dataclass(frozen=True)
class PairFeatures:
    """Embeddings of the chosen and rejected responses of the same pairs, ``[n, D]`` each."""

    chosen: np.ndarray
    rejected: np.ndarray

    def __post_init__(self) -> None:
        if self.chosen.ndim != 2 or self.chosen.shape != self.rejected.shape:
            raise invalid("features", f"chosen and rejected must be [n, D] of one shape, got {self.chosen.shape} and {self.rejected.shape}")
        if len(self.chosen) == 0:
            raise invalid("features", "no pairs")

    def __len__(self) -> int:
        return len(self.chosen)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def train_member(train: PairFeatures, dev: PairFeatures | None, config: TrainConfig, seed: int, embedder: str) -> Member:
    """Trains one head with AdamW; early-stops on the dev loss and keeps the best epoch."""
    config.validate()
    from rewardlab.devices import resolve_device

    where = resolve_device(config.device)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    idx = torch.from_numpy(rng.integers(0, len(train), len(train)) if config.bootstrap else np.arange(len(train))).to(where)
    # The features are read in place (on the CPU; copied once to another device); only each batch
    # is gathered (a bootstrap copy of the whole training set per member would double the memory).
    xc, xr = _tensor(train.chosen).to(where), _tensor(train.rejected).to(where)
    head = MLPHead(HeadConfig(dim=train.chosen.shape[1], hidden=tuple(config.hidden), dropout=config.dropout)).to(where)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    dev_c = _tensor(dev.chosen).to(where) if dev is not None else None
    dev_r = _tensor(dev.rejected).to(where) if dev is not None else None
    best_state, best_loss, best_epoch, stale = None, float("inf"), 0, 0
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = torch.randperm(len(idx), generator=gen).to(where)
        for start in range(0, len(order), config.batch_size):
            b = idx[order[start : start + config.batch_size]]
            loss = preference_loss(config.loss, head(xc[b]), head(xr[b]), config.margin)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if dev_c is None:
            continue
        head.eval()
        with torch.inference_mode():
            dev_loss = float(preference_loss(config.loss, head(dev_c), head(dev_r), config.margin))
        if dev_loss < best_loss - 1e-6:
            best_state, best_loss, best_epoch, stale = copy.deepcopy(head.state_dict()), dev_loss, epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    with torch.inference_mode():
        step = 65536
        raw = torch.cat([head(x[idx[k : k + step]]) for x in (xc, xr) for k in range(0, len(idx), step)])
    if not bool(torch.isfinite(raw).all()):
        # e.g. a learning rate so large that the weights overflowed: never save such a head
        raise invalid("lr", f"training diverged (non-finite scores after training member seed {seed}) with lr={config.lr}; lower the learning rate")
    offset, scale = float(raw.mean()), float(raw.std()) or 1.0
    head.to("cpu")
    info = {
        "seed": seed,
        "epochs_run": epoch,
        "best_epoch": best_epoch if dev is not None else epoch,
        "dev_loss": best_loss if dev is not None else None,
        "train_pairs": len(train),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Member(embedder=embedder, head=head, offset=offset, scale=scale if scale > 1e-12 else 1.0, info=info)


def train_ensemble(
    train: Mapping[str, PairFeatures],
    dev: Mapping[str, PairFeatures] | None,
    config: TrainConfig,
    members: int = 5,
    embedders: Sequence[str] | None = None,
    progress=None,
) -> list[Member]:
    """K members with seeds ``seed + i`` (and bootstrap resamples); member i reads embedder
    ``embedders[i % len(embedders)]``, so a mixed ensemble alternates embedders. A reward model
    given as an embedder (``hf:PATH``: its one feature is its reward) joins as one more member
    as it is, standardised on the training responses; no head is trained on it."""
    if members < 1:
        raise invalid("members", f"must be at least 1, got {members}")
    embedders = list(embedders or train.keys())
    missing = [e for e in embedders if e not in train or (dev is not None and e not in dev)]
    if missing:
        raise invalid("embedders", f"no features for {missing}")
    from rewardlab.embed import is_reward_model_spec

    heads = [e for e in embedders if not is_reward_model_spec(e)]
    out = []
    for i in range(members if heads else 0):
        name = heads[i % len(heads)]
        out.append(train_member(train[name], dev[name] if dev is not None else None, config, config.seed + i, name))
        if progress is not None:
            progress(i + 1, members)
    out += [fixed_member(e, train[e]) for e in embedders if is_reward_model_spec(e)]
    return out


def identity_head() -> MLPHead:
    """The head of a member whose feature is already a reward: ``x[:, 0]`` as it is."""
    head = MLPHead(HeadConfig(dim=1, hidden=(), dropout=0.0))
    with torch.no_grad():
        head.net[0].weight.fill_(1.0)
        head.net[0].bias.zero_()
    return head.eval()


def fixed_member(embedder: str, features: PairFeatures | None = None) -> Member:
    """A member that scores with a reward model's own output (``embedder`` gives ``[N, 1]``
    rewards), standardised like a trained head on ``features``' responses when given."""
    offset, scale = 0.0, 1.0
    if features is not None:
        if features.chosen.shape[1] != 1:
            raise invalid("embedder", f"{embedder} gives {features.chosen.shape[1]} features; a reward member needs 1")
        raw = np.concatenate([features.chosen[:, 0], features.rejected[:, 0]]).astype(np.float64)
        offset, scale = float(raw.mean()), float(raw.std(ddof=1)) if len(raw) > 1 else 1.0
        scale = scale if scale > 1e-12 else 1.0
    info = {"fixed": True, "train_pairs": len(features) if features is not None else 0}
    return Member(embedder=embedder, head=identity_head(), offset=offset, scale=scale, info=info)
