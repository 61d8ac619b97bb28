"""The unit of preference data and the one text format every embedder sees."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Sequence

ASSISTANT_TAG = "\n\nAssistant:"
HUMAN_TAG = "\n\nHuman:"


@dataclass(frozen=True)
class PreferencePair:
    """One human judgement: ``chosen`` beats ``rejected`` as a reply to ``prompt``.

    ``group`` keys the split (the prompt itself, or the OASST tree id so that a conversation
    never straddles train and test); ``source`` and ``line`` point back into the file.
    """

    prompt: str
    chosen: str
    rejected: str
    group: str
    source: str = ""
    line: int = 0

    def texts(self, context: str = "last_turn") -> tuple[str, str]:
        """The embedded texts of the chosen and the rejected response (see :func:`dialogue_text`)."""
        return dialogue_text(self.prompt, self.chosen, context), dialogue_text(self.prompt, self.rejected, context)


def pair_fingerprint(pair: PreferencePair) -> bytes:
    """8 bytes that identify a pair by its content (prompt, chosen, rejected), whatever file or
    line it came from: how a model remembers which pairs it trained on (64-bit blake2b: a chance
    collision among a million pairs is about 3e-8)."""
    h = hashlib.blake2b(digest_size=8)
    for part in (pair.prompt, pair.chosen, pair.rejected):
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


CONTEXTS = ("last_turn", "full", "ends")
# "ends": the last turn cut to fit a 256-token encoder window (MiniLM's) by words, keeping what a
# judge reads first and last: the prompt's end and the response's start and end. About 1.3 MiniLM
# tokens per English word: 176 words is ~230 tokens. Texts within it are exactly "last_turn"'s.
_ENDS_WORDS = 176
_ENDS_PROMPT_WORDS = 48


def _cut_middle(words: list[str], first: int, last: int) -> str:
    if len(words) <= first + last:
        return " ".join(words)
    return " ".join(words[:first]) + " … " + " ".join(words[len(words) - last:])


_TAGGED = re.compile(r"^(\s*Human:)(.*?)(\s*Assistant:)$", re.S)


def _fit_ends(head: str, response: str) -> str:
    """``head`` (``\n\nHuman: ...\n\nAssistant:``) and ``response`` within :data:`_ENDS_WORDS`
    words; the original text when it fits."""
    m = _TAGGED.match(head)
    prefix, ask, suffix = m.groups() if m else ("", head, "")
    q, r = ask.split(), response.split()
    if len(q) + len(r) <= _ENDS_WORDS:
        return f"{head} {response}"
    if len(q) > _ENDS_PROMPT_WORDS and len(q) + min(len(r), _ENDS_WORDS - _ENDS_PROMPT_WORDS) > _ENDS_WORDS:
        q = ["…"] + q[len(q) - _ENDS_PROMPT_WORDS + 1:]  # the prompt's end, marked as cut
    budget = _ENDS_WORDS - len(q)
    reply = _cut_middle(r, budget - budget // 2, budget // 2)
    return f"{prefix} {' '.join(q)}{suffix} {reply}"


def dialogue_text(prompt: str, response: str, context: str = "last_turn") -> str:
    """The (prompt, response) pair as HH-style dialogue text, the text that gets embedded.

    ``full`` keeps the whole conversation (an HH-RLHF pair embeds exactly its original string);
    ``last_turn`` keeps only the last human turn and the reply; ``ends`` does too, and cuts a pair
    longer than a 256-token window to the prompt's end and the reply's start and end (the
    embedders' own left truncation would keep only the reply's end). The earlier turns are shared by
    chosen and rejected, so they carry no signal for the comparison, and with a 256-token encoder
    they would crowd the reply out; on the bundled dev split ``last_turn`` was the better
    input (docs/models.md). A bare instruction becomes a one-turn dialogue.
    """
    if context not in CONTEXTS:
        raise ValueError(f"context: expected one of {', '.join(CONTEXTS)}, got {context!r}")
    head = prompt.rstrip()
    if not head.endswith("Assistant:"):
        if not head.lstrip().startswith(HUMAN_TAG.strip()):
            head = f"{HUMAN_TAG}{' ' if head else ''}{head}"
        head = f"{head}{ASSISTANT_TAG}"
    if context in ("last_turn", "ends"):
        cut = head.rfind(HUMAN_TAG)
        if cut > 0:
            head = head[cut:]
    if context == "ends":
        return _fit_ends(head, response.strip())
    return f"{head} {response.strip()}"



def dialogue_texts(prompts: Sequence[str], responses: Sequence[Sequence[str]], context: str = "last_turn") -> list[str]:
    """Every prompt's responses as :func:`dialogue_text`, flattened in order (``responses[i]``
    are the replies to ``prompts[i]``: best-of-N candidates or policy samples)."""
    return [dialogue_text(p, r, context) for p, rs in zip(prompts, responses) for r in rs]

SYSTEM_MARK = "[system] "  # how the flattening marks a system message (data.formats.flatten_messages)
_TURN = re.compile(r"\n\n(Human|Assistant):")


def dialogue_turns(text: str) -> list[dict[str, str]]:
    """The messages of an HH-style dialogue text: the inverse of the flattening every loader
    applies. ``Human:`` turns become ``user`` messages, ``Assistant:`` ones ``assistant``, a first
    turn marked ``[system]`` a ``system`` message; text before the first tag is a ``user`` turn.
    What an embedder with a chat template renders (``lm:`` embedders)."""
    parts = _TURN.split(text)
    messages = []
    if parts[0].strip():
        messages.append({"role": "user", "content": parts[0].strip()})
    for tag, content in zip(parts[1::2], parts[2::2]):
        role, body = ("user" if tag == "Human" else "assistant"), content.strip()
        if role == "user" and not messages and body.startswith(SYSTEM_MARK):
            role, body = "system", body[len(SYSTEM_MARK):]
        messages.append({"role": role, "content": body})
    return messages

