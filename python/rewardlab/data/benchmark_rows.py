"""Rows of the benchmarks' release files: one JSON array (RM-Bench's ``total_dataset.json``,
RewardBench exports) or JSON lines, read the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from rewardlab.data.formats import DataError, read_lines


def array_or_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(number, row)`` of a file holding one JSON array (the benchmarks' releases) or JSON
    lines (rows of an array parsed, lines left as text for :func:`parse_row`)."""
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
