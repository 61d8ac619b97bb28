"""Rows of the benchmarks' release files: one JSON array (RM-Bench's ``total_dataset.json``,
RewardBench exports), JSON lines or parquet, read the same way, with every unusable row skipped
and reported (or refused under ``strict``) as the preference loaders do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

from rewardlab.data.rows import DataError, LoadReport, Malformed, checked_rows, parse_row, raw_rows, read_lines


def array_or_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(number, row)`` of a file holding one JSON array (the benchmarks' releases), JSON lines
    (left as text for :func:`parse_row`) or parquet rows."""
    if path.suffix == ".parquet":
        yield from raw_rows(path)
        return
    lines = read_lines(path)
    first = next(lines, None)
    if first is None:
        return
    if first[1].lstrip().startswith("["):  # one JSON array, possibly over many lines
        text = first[1] + "\n" + "\n".join(raw for _, raw in lines)
        try:
            data = json.loads(text)
        except ValueError as err:
            raise DataError(f"data: {path} is not valid JSON ({err})") from None
        yield from enumerate(data, start=1)
        return
    yield first[0], first[1]
    yield from lines


def first_row(path: str | Path) -> Any:
    """The first non-blank row of ``path``, parsed; None when there is none or it is not JSON
    (what tells one benchmark's layout from another's)."""
    for _, raw in array_or_lines(Path(path)):
        if isinstance(raw, str) and not raw.strip():
            continue
        try:
            return parse_row(raw) if isinstance(raw, str) else raw
        except Malformed:
            return None
    return None


def usable_rows(path: Path, report: LoadReport, strict: bool,
                problem: Callable[[Any], str | None]) -> Iterator[tuple[int, Any]]:
    """``(number, row)`` of every row ``problem`` finds nothing wrong with, counting rows in
    ``report``; a row it names a problem for (or that is not JSON) is skipped and reported, or
    with ``strict`` refused (:func:`~rewardlab.data.rows.checked_rows`)."""
    def check(number: int, row: Any) -> tuple[int, Any]:
        why = problem(row)
        if why is not None:
            raise Malformed(why)
        return number, row

    return checked_rows(array_or_lines(path), path, report, strict, check)
