"""RewardBench files: ``{"prompt", "chosen", "rejected", "subset", "id"}`` rows (the benchmark's
``filtered`` split, as JSON lines, one JSON array or parquet). Each row is a preference pair and its subset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab.data.benchmark_rows import usable_rows
from rewardlab.data.rows import DataError, LoadReport
from rewardlab.data.pairs import PreferencePair


def looks_like_reward_bench(row: Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("subset"), str)
            and all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")))


def _problem(row: Any) -> str | None:
    if not looks_like_reward_bench(row):
        return "not prompt/chosen/rejected/subset strings"
    if not all(row[k].strip() for k in ("prompt", "chosen", "rejected")):
        return "an empty prompt or response"
    return None


def load_reward_bench(path: str | Path, strict: bool = False) -> tuple[list[tuple[PreferencePair, str]], LoadReport]:
    """``(pair, subset)`` of every usable row; malformed rows are skipped and reported."""
    path = Path(path)
    report = LoadReport(path=str(path), format="reward-bench")
    out = [(PreferencePair(row["prompt"], row["chosen"], row["rejected"], group=row["prompt"], source=str(path), line=number),
            row["subset"]) for number, row in usable_rows(path, report, strict, _problem)]
    report.pairs = len(out)
    if not out:
        raise DataError(f"data: {path} holds no usable RewardBench rows ({report.summary()})")
    return out, report
