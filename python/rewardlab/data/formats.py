"""Readers for the three preference formats, with an honest account of every skipped row.

- ``pairwise``: jsonl rows ``{"prompt", "chosen", "rejected"}``.
- ``hh``: HH-RLHF rows ``{"chosen", "rejected"}`` holding whole dialogues; the prompt is the shared
  prefix up to and including the last ``\\n\\nAssistant:``.
- ``oasst``: OpenAssistant trees, one per line; every pair of ranked sibling assistant replies
  with different ranks is a pair (rank 0 = best), the prompt being the conversation above them.
- ``judgebench``: JudgeBench rows ``{"question", "response_A", "response_B", "label": "A>B"|"B>A"}``;
  the labelled better response is the chosen one.
- ``conversational``: TRL's conversational preference rows, ``prompt``/``chosen``/``rejected`` as
  lists of ``{"role", "content"}`` messages, or ``chosen``/``rejected`` alone (TRL's implicit
  prompt: the messages the two share). Messages are flattened to the HH dialogue text every
  embedder here reads (``user`` -> ``Human:``, ``assistant`` -> ``Assistant:``, a ``system``
  message -> a first ``Human:`` turn marked ``[system]``). An embedder with a chat template (``lm:``)
  turns that text back into messages (:func:`~rewardlab.data.pairs.dialogue_turns`) and renders them
  with its template; the sentence embedders (``minilm``, ``e5``) have none and read the text.

Files may be gzip-compressed (``.gz``) JSON lines, or parquet (``.parquet``, read in batches with
pyarrow; the same columns). ``format="auto"`` picks the format from the first row
that parses.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Iterator, Sequence

from rewardlab.data.pairs import ASSISTANT_TAG, HUMAN_TAG, SYSTEM_MARK, PreferencePair
from rewardlab.errors import InvalidInputError

FORMATS = ("auto", "pairwise", "hh", "oasst", "conversational", "judgebench")
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
    """Internal: a row is unusable for the given reason."""

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


def check_limit(limit: int | None) -> None:
    """``limit`` (how many items a loader keeps) is None or a positive integer."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"limit: must be a positive integer, got {limit!r}")


def finish_report(path: Path, report: "LoadReport", kept: int, what: str) -> None:
    """Record how many items a loader kept; none at all is an error naming the file."""
    report.pairs = kept
    if not kept:
        raise DataError(f"data: {path} holds no usable {what} ({report.summary()})")


def _text(row: dict[str, Any], key: str) -> str:
    if key not in row:
        raise Malformed(f"missing field '{key}'")
    value = row[key]
    if not isinstance(value, str):
        raise Malformed(f"field '{key}' is not a string")
    if not value.strip():
        raise Malformed(f"empty '{key}'")
    return value


def _pairwise(row: dict[str, Any], path: str, line: int) -> list[PreferencePair]:
    prompt, chosen, rejected = _text(row, "prompt"), _text(row, "chosen"), _text(row, "rejected")
    if chosen.strip() == rejected.strip():
        raise Malformed("chosen == rejected")
    return [PreferencePair(prompt, chosen, rejected, group=prompt, source=path, line=line)]


def split_dialogue(chosen: str, rejected: str) -> tuple[str, str, str]:
    """HH-RLHF: (prompt, chosen reply, rejected reply) from two whole dialogues."""
    cut = chosen.rfind(ASSISTANT_TAG)
    if cut < 0:
        raise Malformed("no '\\n\\nAssistant:' turn")
    end = cut + len(ASSISTANT_TAG)
    prompt = chosen[:end]
    if not rejected.startswith(prompt):
        raise Malformed("chosen and rejected do not share the prompt")
    reply_c, reply_r = chosen[end:].strip(), rejected[end:].strip()
    if not reply_c or not reply_r:
        raise Malformed("empty reply")
    if ASSISTANT_TAG in rejected[end:] or HUMAN_TAG in rejected[end:]:
        raise Malformed("rejected continues past the shared prompt")
    if reply_c == reply_r:
        raise Malformed("chosen == rejected")
    return prompt, reply_c, reply_r


def _hh(row: dict[str, Any], path: str, line: int) -> list[PreferencePair]:
    prompt, chosen, rejected = split_dialogue(_text(row, "chosen"), _text(row, "rejected"))
    return [PreferencePair(prompt, chosen, rejected, group=prompt, source=path, line=line)]


def _oasst(row: dict[str, Any], path: str, line: int) -> list[PreferencePair]:
    root = row.get("prompt")
    if not isinstance(root, dict):
        raise Malformed("missing field 'prompt' (an OASST message tree)")
    tree = str(row.get("message_tree_id") or root.get("message_id") or f"{path}:{line}")
    pairs: list[PreferencePair] = []

    def visit(node: dict[str, Any], history: str) -> None:
        text = node.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Malformed("message without text")
        tag = HUMAN_TAG if node.get("role") == "prompter" else ASSISTANT_TAG
        here = f"{history}{tag} {text.strip()}"
        replies = [r for r in node.get("replies") or [] if isinstance(r, dict) and not r.get("deleted")]
        ranked = [
            r for r in replies
            if r.get("role") == "assistant" and isinstance(r.get("rank"), int) and isinstance(r.get("text"), str)
        ]
        prompt = here + ASSISTANT_TAG
        for a, b in combinations(sorted(ranked, key=lambda r: r["rank"]), 2):
            if a["rank"] == b["rank"] or not a["text"].strip() or not b["text"].strip():
                continue
            if a["text"].strip() == b["text"].strip():
                continue
            pairs.append(PreferencePair(prompt, a["text"].strip(), b["text"].strip(), group=tree, source=path, line=line))
        for reply in replies:
            visit(reply, here)

    visit(root, "")
    if not pairs:
        raise Malformed("tree without ranked sibling replies")
    return pairs


_ROLES = {"user": HUMAN_TAG, "assistant": ASSISTANT_TAG, "system": HUMAN_TAG}


def _messages(value: Any, key: str) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise Malformed(f"field '{key}' is not a list of messages")
    out = []
    for m in value:
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise Malformed(f"field '{key}' holds a message without a user/assistant/system role and text content")
        out.append((m["role"], m["content"].strip()))
    return out


def flatten_messages(messages: Sequence[tuple[str, str]]) -> str:
    """HH-style dialogue text of ``(role, content)`` messages."""
    return "".join(f"{_ROLES[r]} {SYSTEM_MARK if r == 'system' else ''}{c}" for r, c in messages)


def _conversational(row: dict[str, Any], path: str, line: int) -> list[PreferencePair]:
    chosen, rejected = _messages(row.get("chosen"), "chosen"), _messages(row.get("rejected"), "rejected")
    if "prompt" in row:
        prompt = _messages(row["prompt"], "prompt")
    else:  # implicit prompt: the messages both sides share, up to the final assistant reply
        shared = 0
        while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
            shared += 1
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
        if not prompt:
            raise Malformed("chosen and rejected share no prompt messages")
    for side, msgs in (("chosen", chosen), ("rejected", rejected)):
        if len(msgs) != 1 or msgs[0][0] != "assistant" or not msgs[0][1]:
            raise Malformed(f"'{side}' must be one non-empty assistant message after the prompt")
    if prompt[-1][0] == "assistant":
        raise Malformed("the prompt ends with an assistant message")
    if chosen[0][1] == rejected[0][1]:
        raise Malformed("chosen == rejected")
    text = flatten_messages(prompt) + ASSISTANT_TAG
    return [PreferencePair(text, chosen[0][1], rejected[0][1], group=text, source=path, line=line)]


def _judgebench(row: dict[str, Any], path: str, line: int) -> list[PreferencePair]:
    """JudgeBench (``label`` "A>B" or "B>A"); one order suffices for a scalar reward model."""
    prompt, a, b = _text(row, "question"), _text(row, "response_A"), _text(row, "response_B")
    label = row.get("label")
    if label not in ("A>B", "B>A"):
        raise Malformed("label is not A>B or B>A")
    chosen, rejected = (a, b) if label == "A>B" else (b, a)
    if chosen.strip() == rejected.strip():
        raise Malformed("chosen == rejected")
    return [PreferencePair(prompt, chosen, rejected, group=prompt, source=path, line=line)]


_PARSERS = {"pairwise": _pairwise, "hh": _hh, "oasst": _oasst, "conversational": _conversational, "judgebench": _judgebench}


def detect_format(row: dict[str, Any]) -> str | None:
    if "response_A" in row and "response_B" in row and "label" in row:
        return "judgebench"
    if isinstance(row.get("prompt"), dict):
        return "oasst"
    if isinstance(row.get("chosen"), list) and isinstance(row.get("rejected"), list):
        return "conversational"
    if "prompt" in row and "chosen" in row and "rejected" in row:
        return "pairwise"
    if "chosen" in row and "rejected" in row:
        return "hh"
    return None


def iter_pairs(path: str | Path, report: LoadReport, format: str = "auto", strict: bool = False) -> Iterator[PreferencePair]:
    """Preference pairs of ``path`` one at a time, filling ``report`` as it goes: the streaming
    form of :func:`load_pairs`, for files too large to hold. A file with no usable pair raises
    :class:`DataError` when the iteration reaches its end."""
    if format not in FORMATS:
        raise DataError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(path)
    fmt = None if format == "auto" else format
    kept = 0
    for line, raw in raw_rows(path):
        if isinstance(raw, str) and not raw.strip():
            continue
        report.rows += 1
        try:
            row = parse_row(raw) if isinstance(raw, str) else raw
            if not isinstance(row, dict):
                raise Malformed("row is not a JSON object")
            if fmt is None:
                fmt = detect_format(row)
                if fmt is None:
                    raise Malformed("unknown row layout (need prompt/chosen/rejected, chosen/rejected or an OASST tree)")
                report.format = fmt
            found = _PARSERS[fmt](row, str(path), line)
        except Malformed as bad:
            if strict:
                raise DataError(f"data: {path}:{line}: {bad.reason}") from None
            report.skip(line, bad.reason)
            continue
        kept += len(found)
        report.pairs = kept
        yield from found
    if not kept:
        raise DataError(f"data: {path} holds no usable preference pairs ({report.summary()})")


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


def load_pairs(path: str | Path, format: str = "auto", strict: bool = False) -> tuple[list[PreferencePair], LoadReport]:
    """Reads preference pairs from ``path`` (jsonl or jsonl.gz).

    Malformed rows (bad JSON, missing or empty fields, chosen == rejected, a dialogue whose two
    sides do not share a prompt, ...) are skipped and counted in the report, or raise
    :class:`DataError` naming the file, line and reason when ``strict`` is true.
    """
    report = LoadReport(path=str(path), format=format)
    pairs = list(iter_pairs(path, report, format=format, strict=strict))
    return pairs, report


def iter_many(
    paths: Sequence[str | Path], format: str = "auto", strict: bool = False
) -> tuple[Iterator[PreferencePair], list[LoadReport]]:
    """The pairs of several files as one stream, in order, and their reports (filled as the
    stream is read)."""
    if not paths:
        raise DataError("data: give at least one file")
    reports = [LoadReport(path=str(p), format=format) for p in paths]

    def stream() -> Iterator[PreferencePair]:
        for path, report in zip(paths, reports):
            yield from iter_pairs(path, report, format=format, strict=strict)

    return stream(), reports


def load_many(paths: Sequence[str | Path], format: str = "auto", strict: bool = False) -> tuple[list[PreferencePair], list[LoadReport]]:
    """:func:`load_pairs` over several files, concatenated in order."""
    stream, reports = iter_many(paths, format=format, strict=strict)
    return list(stream), reports
