"""Reading the rows of data files, with an honest account of every skipped row: the machinery
every loader shares (preference pairs in :mod:`~rewardlab.data.formats`, best-of-N sets, the
benchmarks' files, the task loaders).

A row that cannot be used raises :class:`Malformed` with its reason; :func:`checked_rows` then
skips it and counts it in the file's :class:`LoadReport`, or under ``strict`` refuses the file
with a :class:`DataError` naming the line.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from rewardlab.errors import InvalidInputError

T = TypeVar("T")
_FIRST_LINES = 5  # how many line numbers the report keeps per skip reason


class DataError(InvalidInputError):
    """A malformed row under ``strict=True``, or a file that cannot be read at all."""


@dataclass
class LoadReport:
    """What a loader read, kept and skipped (reason -> count, and the first line numbers)."""

    path: str
    format: str
    rows: int = 0
    pairs: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    first_lines: dict[str, list[int]] = field(default_factory=dict)
    unit: str = "pairs"  # what ``pairs`` counts: pairs, best-of-N prompts, problems, traces

    @property
    def n_skipped(self) -> int:
        """Rows skipped, all reasons together."""
        return sum(self.skipped.values())

    def skip(self, line: int, reason: str) -> None:
        """Counts a skipped row under ``reason``, keeping the first few line numbers."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        lines = self.first_lines.setdefault(reason, [])
        if len(lines) < _FIRST_LINES:
            lines.append(line)

    def summary(self) -> str:
        """One line for people: what was kept and what was skipped, by reason."""
        text = f"{self.path}: {self.pairs} {self.unit} from {self.rows} rows ({self.format})"
        if self.skipped:
            parts = [
                f"{n} {reason} (lines {', '.join(map(str, self.first_lines[reason]))}"
                f"{', ...' if n > len(self.first_lines[reason]) else ''})"
                for reason, n in sorted(self.skipped.items())
            ]
            text += "; skipped " + "; ".join(parts)
        return text

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "pairs": self.pairs,
            "unit": self.unit,
            "skipped": dict(self.skipped),
            "first_lines": {k: list(v) for k, v in self.first_lines.items()},
        }


class Malformed(Exception):
    """A row is unusable for the given reason (raised by a loader's row check, caught by :func:`checked_rows`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file, plain or ``.gz``; unreadable files raise ``DataError``."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:  # a leading BOM is not part of row 1
            for number, line in enumerate(fh, start=1):
                yield number, line
    except FileNotFoundError:
        raise DataError(f"data: no such file: {path}") from None
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise DataError(f"data: cannot read {path}: {err}") from None


def json_rows(path: Path, report: "LoadReport", malformed: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed row)`` of a JSON-lines file for the task loaders: blank lines are
    ignored, every other line counts in ``report.rows``, a line that is not JSON is reported
    under ``malformed``."""
    for line, raw in read_lines(path):
        if not raw.strip():
            continue
        report.rows += 1
        try:
            row = parse_row(raw)
        except Malformed as bad:
            report.skip(line, malformed if bad.reason == "bad JSON" else bad.reason)
            continue
        yield line, row


def parse_row(raw: str) -> Any:
    """One JSON line, or :class:`Malformed` naming why not: bad JSON, nesting too deep for the
    parser, an integer too long to convert, or a string with a lone surrogate escape (which no
    encoder downstream can write)."""
    try:
        row = json.loads(raw)
    except RecursionError:
        raise Malformed("JSON nested too deeply") from None
    except json.JSONDecodeError:
        raise Malformed("bad JSON") from None
    except ValueError:  # e.g. Python's limit on integer digits
        raise Malformed("number too large") from None
    # A file decoded as UTF-8 holds no surrogates; only \u escapes can bring a lone one in.
    if "\\u" in raw or "\\U" in raw:
        try:
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Malformed("invalid Unicode (lone surrogate escape)") from None
        except (ValueError, RecursionError):
            raise Malformed("JSON nested too deeply") from None
    return row


def checked_rows(rows: Iterable[tuple[int, Any]], path: Path, report: LoadReport, strict: bool,
                 use: Callable[[int, Any], T]) -> Iterator[T]:
    """``use(number, row)`` of every non-blank row (a JSON line parsed first), counted in
    ``report``; a row that is not JSON, or that ``use`` refuses with :class:`Malformed`, is
    skipped and reported by its reason, or with ``strict`` refused."""
    for number, raw in rows:
        if isinstance(raw, str) and not raw.strip():
            continue
        report.rows += 1
        try:
            value = use(number, parse_row(raw) if isinstance(raw, str) else raw)
        except Malformed as bad:
            if strict:
                raise DataError(f"data: {path}:{number}: {bad.reason}") from None
            report.skip(number, bad.reason)
            continue
        yield value


def check_limit(limit: int | None) -> None:
    """``limit`` (how many items a loader keeps) is None or a positive integer."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"limit: must be a positive integer, got {limit!r}")


def finish_report(path: Path, report: "LoadReport", kept: int, what: str) -> None:
    """Record how many items a loader kept; none at all is an error naming the file."""
    report.pairs = kept
    if not kept:
        raise DataError(f"data: {path} holds no usable {what} ({report.summary()})")


def raw_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """``(row number, JSON line or parsed dict)``: lines of a (gzip) JSON-lines file, or the rows
    of a parquet file read a batch at a time (row numbers from 1, as lines)."""
    if path.suffix != ".parquet":
        yield from read_lines(path)
        return
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("data: reading parquet needs pyarrow: pip install pyarrow") from None
    try:
        reader = pq.ParquetFile(path)
        number = 0
        for batch in reader.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except FileNotFoundError:
        raise DataError(f"data: no such file: {path}") from None
    except (OSError, ValueError) as err:  # pyarrow's errors subclass these
        raise DataError(f"data: cannot read {path} as parquet: {err}") from None
