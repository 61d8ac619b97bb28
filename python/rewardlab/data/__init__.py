"""Preference data: pairwise jsonl, HH-RLHF dialogues, OASST ranked trees, TRL conversational rows
and parquet, split by prompt; best-of-N candidate sets (:class:`BonSet`); embedded responses with
golden rewards (:class:`ResponseSet`, the shape of Sun et al.'s released arrays).

Every loader returns the pairs it kept *and* a :class:`LoadReport` that counts what it skipped,
by reason, with the first line numbers; under ``strict=True`` the first malformed row raises
:class:`DataError` instead. Nothing is dropped silently.
"""

from rewardlab.data.best_of_n import BonSet, load_bon
from rewardlab.data.formats import FORMATS, iter_many, iter_pairs, load_many, load_pairs
from rewardlab.data.pairs import CONTEXTS, PreferencePair, dialogue_text, dialogue_turns, pair_fingerprint
from rewardlab.data.response_sets import ResponseSet, load_arrays
from rewardlab.data.rows import DataError, LoadReport, check_limit, finish_report, json_rows, read_lines
from rewardlab.data.splits import Split, check_fractions, split_by_prompt, split_of

__all__ = [
    "BonSet",
    "load_bon",
    "ResponseSet",
    "load_arrays",
    "CONTEXTS",
    "FORMATS",
    "DataError",
    "LoadReport",
    "PreferencePair",
    "Split",
    "dialogue_text",
    "dialogue_turns",
    "pair_fingerprint",
    "load_many",
    "iter_many",
    "iter_pairs",
    "load_pairs",
    "read_lines",
    "json_rows",
    "finish_report",
    "check_limit",
    "split_by_prompt",
    "split_of",
    "check_fractions",
]
