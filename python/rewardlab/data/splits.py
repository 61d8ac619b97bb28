"""Deterministic train/dev/test splits by prompt group.

A pair's split is a pure function of its group key (a keyed hash), so it does not depend on file
order, on which other files are loaded, or on the process: the same prompt lands in the same split
on every machine, and all pairs of a prompt land together (no prompt leaks from train into test).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from rewardlab.data.pairs import PreferencePair
from rewardlab.errors import invalid


@dataclass(frozen=True)
class Split:
    train: list[PreferencePair]
    dev: list[PreferencePair]
    test: list[PreferencePair]

    def sizes(self) -> dict[str, int]:
        """Pairs per split."""
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def unit_hash(key: str, salt: str = "") -> float:
    """A uniform number in [0, 1) from ``key``; ``salt`` draws an independent split."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, key=salt.encode("utf-8")[:64]).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split_by_prompt(
    pairs: Sequence[PreferencePair], dev: float = 0.1, test: float = 0.1, salt: str = ""
) -> Split:
    """Splits ``pairs`` into train/dev/test by hashing each pair's ``group``."""
    check_fractions(dev, test)
    out: dict[str, list[PreferencePair]] = {"train": [], "dev": [], "test": []}
    for pair in pairs:
        out[split_of(pair.group, dev, test, salt)].append(pair)
    return Split(**out)


def check_fractions(dev: float, test: float) -> None:
    """``dev`` and ``test`` are fractions that leave room for a training split."""
    for name, frac in (("dev", dev), ("test", test)):
        if not (0.0 <= frac < 1.0):
            raise invalid(name, f"must be a fraction in [0, 1), got {frac!r}")
    if dev + test >= 1.0:
        raise invalid("dev", f"dev + test must be below 1 so that train is not empty, got {dev + test!r}")


def split_of(group: str, dev: float = 0.1, test: float = 0.1, salt: str = "") -> str:
    """``"train"``, ``"dev"`` or ``"test"``: the split of one prompt group (see :func:`split_by_prompt`)."""
    u = unit_hash(group, salt)
    return "test" if u < test else "dev" if u < test + dev else "train"
