"""RewardBench files: ``{"prompt", "chosen", "rejected", "subset", "id"}`` rows (the benchmark's
``filtered`` split, as JSON lines or one JSON array). Each row is a preference pair and its subset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab.data.benchmark_rows import array_or_lines
from rewardlab.data.formats import DataError, LoadReport, parse_row
from rewardlab.data.pairs import PreferencePair


def looks_like_reward_bench(row: Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("subset"), str)
            and all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")))


def sniff(path: str | Path) -> bool:
    """Whether ``path``'s first row is a RewardBench row."""
    for _, raw in array_or_lines(Path(path)):
        try:
            return looks_like_reward_bench(parse_row(raw) if isinstance(raw, str) else raw)
        except Exception:
            return False
    return False


def load_reward_bench(path: str | Path, strict: bool = False) -> tuple[list[tuple[PreferencePair, str]], LoadReport]:
    """``(pair, subset)`` of every usable row; malformed rows are skipped and reported."""
    path = Path(path)
    report = LoadReport(path=str(path), format="reward-bench")
    out: list[tuple[PreferencePair, str]] = []
    for number, raw in array_or_lines(path):
        if isinstance(raw, str) and not raw.strip():
            continue
        report.rows += 1
        try:
            row = parse_row(raw) if isinstance(raw, str) else raw
            why = None if looks_like_reward_bench(row) else "not prompt/chosen/rejected/subset strings"
            if why is None and not all(row[k].strip() for k in ("prompt", "chosen", "rejected")):
                why = "an empty prompt or response"
        except Exception as err:  # a line that is not JSON
            why = str(getattr(err, "reason", err))
        if why is not None:
            if strict:
                raise DataError(f"data: {path}:{number}: {why}")
            report.skip(number, why)
            continue
        pair = PreferencePair(row["prompt"], row["chosen"], row["rejected"], group=row["prompt"], source=str(path), line=number)
        out.append((pair, row["subset"]))
        report.pairs = len(out)
    if not out:
        raise DataError(f"data: {path} holds no usable RewardBench rows ({report.summary()})")
    return out, report
