"""Where rewardlab keeps what it can rebuild (embedding cache, de-quantised models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$REWARDLAB_CACHE`` if set, else ``~/.cache/rewardlab``."""
    env = os.environ.get("REWARDLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rewardlab"
