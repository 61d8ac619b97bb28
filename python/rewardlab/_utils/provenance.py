"""What a result came from: rewardlab's version and commit, the date, the machine, the seeds and
the data files with their hashes. Every report records it, so that a number can be traced."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Sequence


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the source tree rewardlab runs from, when that is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("+uncommitted changes" if dirty else "")


def provenance(files: Sequence[str | Path], seeds: dict[str, Any]) -> dict[str, Any]:
    from rewardlab import __version__

    versions = {"python": platform.python_version()}
    for name in ("numpy", "torch", "transformers", "sentence_transformers"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            continue
    return {
        "rewardlab": __version__,
        "commit": git_commit(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"system": platform.system(), "arch": platform.machine(), "cpus": os.cpu_count(),
                    "processor": platform.processor() or None},
        "versions": versions,
        "seeds": dict(seeds),
        "data": [{"path": str(f), "bytes": Path(f).stat().st_size, "sha256": file_sha256(f)} for f in files],
    }
