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

from itertools import combinations
from pathlib import Path
from typing import Any, Iterator, Sequence

from rewardlab.data.pairs import ASSISTANT_TAG, HUMAN_TAG, SYSTEM_MARK, PreferencePair
from rewardlab.data.rows import DataError, LoadReport, Malformed, checked_rows, raw_rows

FORMATS = ("auto", "pairwise", "hh", "oasst", "conversational", "judgebench")


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

    def pairs_of(line: int, row: Any) -> list[PreferencePair]:
        nonlocal fmt
        if not isinstance(row, dict):
            raise Malformed("row is not a JSON object")
        if fmt is None:
            fmt = detect_format(row)
            if fmt is None:
                raise Malformed("unknown row layout (need prompt/chosen/rejected, chosen/rejected or an OASST tree)")
            report.format = fmt
        return _PARSERS[fmt](row, str(path), line)

    for found in checked_rows(raw_rows(path), path, report, strict, pairs_of):
        kept += len(found)
        report.pairs = kept
        yield from found
    if not kept:
        raise DataError(f"data: {path} holds no usable preference pairs ({report.summary()})")


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
