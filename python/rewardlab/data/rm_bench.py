"""RM-Bench files (Liu et al., ICLR 2025): per prompt, three chosen and three rejected responses
of increasing style (concise, detailed plain text, detailed markdown).

A row: ``{"id", "prompt", "chosen": [3 strings], "rejected": [3 strings], "domain"}``. The
benchmark's own file (``total_dataset.json``) is one JSON array; JSON lines are read too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data.benchmark_rows import array_or_lines
from rewardlab.data.formats import DataError, LoadReport, parse_row

STYLES = ("concise", "detailed", "detailed markdown")


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


def sniff(path: str | Path) -> bool:
    """Whether ``path``'s first row is an RM-Bench row."""
    for _, raw in array_or_lines(Path(path)):
        try:
            row = parse_row(raw) if isinstance(raw, str) else raw
        except Exception:
            return False
        return looks_like_rm_bench(row)
    return False


def load_rm_bench(path: str | Path, strict: bool = False) -> tuple[list[RMBenchItem], LoadReport]:
    """Every usable row; a malformed one is skipped and reported (or, with ``strict``, an error)."""
    path = Path(path)
    report = LoadReport(path=str(path), format="rm-bench", unit="prompts")
    items: list[RMBenchItem] = []
    for number, raw in array_or_lines(path):
        if isinstance(raw, str) and not raw.strip():
            continue
        report.rows += 1
        try:
            row = parse_row(raw) if isinstance(raw, str) else raw
            why = None if looks_like_rm_bench(row) and len(row["rejected"]) == 3 else "not 3 chosen and 3 rejected strings"
            if why is None and not (isinstance(row.get("prompt"), str) and row["prompt"].strip()):
                why = "missing or empty 'prompt'"
        except Exception as err:  # parse_row's refusal of a line that is not JSON
            why = str(getattr(err, "reason", err))
        if why is not None:
            if strict:
                raise DataError(f"data: {path}:{number}: {why}")
            report.skip(number, why)
            continue
        items.append(RMBenchItem(str(row.get("id", number)), row["prompt"], tuple(row["chosen"]), tuple(row["rejected"]),
                                 str(row.get("domain", "all"))))
        report.pairs = len(items)
    if not items:
        raise DataError(f"data: {path} holds no usable RM-Bench rows ({report.summary()})")
    return items, report
