"""RM-Bench files (Liu et al., ICLR 2025): per prompt, three chosen and three rejected responses
of increasing style (concise, detailed plain text, detailed markdown).

A row: ``{"id", "prompt", "chosen": [3 strings], "rejected": [3 strings], "domain"}``. The
benchmark's own file (``total_dataset.json``) is one JSON array; JSON lines are read too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data.benchmark_rows import usable_rows
from rewardlab.data.rows import DataError, LoadReport


@dataclass(frozen=True)
class RMBenchItem:
    id: str
    prompt: str
    chosen: tuple[str, str, str]
    rejected: tuple[str, str, str]
    domain: str


def looks_like_rm_bench(row: Any) -> bool:
    """A row whose chosen and rejected are lists of three strings (not chat messages)."""
    return (isinstance(row, dict) and isinstance(row.get("chosen"), list) and isinstance(row.get("rejected"), list)
            and len(row["chosen"]) == 3 and all(isinstance(x, str) for x in row["chosen"] + row["rejected"]))


def _problem(row: Any) -> str | None:
    if not (looks_like_rm_bench(row) and len(row["rejected"]) == 3):
        return "not 3 chosen and 3 rejected strings"
    if not (isinstance(row.get("prompt"), str) and row["prompt"].strip()):
        return "missing or empty 'prompt'"
    return None


def load_rm_bench(path: str | Path, strict: bool = False) -> tuple[list[RMBenchItem], LoadReport]:
    """Every usable row; a malformed one is skipped and reported (or, with ``strict``, an error)."""
    path = Path(path)
    report = LoadReport(path=str(path), format="rm-bench", unit="prompts")
    items = [RMBenchItem(str(row.get("id", number)), row["prompt"], tuple(row["chosen"]), tuple(row["rejected"]),
                         str(row.get("domain", "all")))
             for number, row in usable_rows(path, report, strict, _problem)]
    report.pairs = len(items)
    if not items:
        raise DataError(f"data: {path} holds no usable RM-Bench rows ({report.summary()})")
    return items, report
