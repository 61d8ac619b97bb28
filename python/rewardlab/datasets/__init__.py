"""The data the demo, the tests and the README's examples run on, shipped inside the package.

Subsets of public datasets, each folder with its upstream licence (small enough for a wheel:
about 6 MB, gzip-compressed JSON lines):

- ``hh-rlhf/harmless-base-test.dev.jsonl.gz``: Anthropic HH-RLHF harmless-base test, a fixed
  1,821-row subset (MIT).
- ``oasst/en_100_tree.jsonl.gz``: 100 OpenAssistant conversation trees with ranked replies (Apache-2.0).
- ``reward-bench-bon/alpaca_eval_tulu2_dpo_13b_n16.jsonl.gz``: RewardBench's best-of-N set, 805
  AlpacaEval prompts x 16 tulu-2-dpo-13b samples with GPT-4 gold preferences (Apache-2.0).
- ``gsm8k/example_model_solutions.jsonl.gz``: 4 real model solutions per GSM8K test question,
  with correctness (MIT).
- ``big-bench-mistake/*.jsonl.gz``: BIG-Bench Mistake chain-of-thought traces with the
  human-labelled first wrong step (Apache-2.0).

``$REWARDLAB_DATA`` points rewardlab at another folder with the same layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from rewardlab.errors import invalid

HH = "hh-rlhf/harmless-base-test.dev.jsonl.gz"
OASST = "oasst/en_100_tree.jsonl.gz"
BON = "reward-bench-bon/alpaca_eval_tulu2_dpo_13b_n16.jsonl.gz"
GSM8K_SOLUTIONS = "gsm8k/example_model_solutions.jsonl.gz"
MISTAKES = "big-bench-mistake"

__all__ = ["BON", "GSM8K_SOLUTIONS", "HH", "MISTAKES", "OASST", "data_dir", "path"]


def data_dir() -> Path:
    """``$REWARDLAB_DATA`` if set, else the folder shipped with the package."""
    env = os.environ.get("REWARDLAB_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The file ``name`` (e.g. :data:`HH`) of :func:`data_dir`; a missing file is a clear error."""
    p = data_dir() / name
    if not p.exists():
        where = "$REWARDLAB_DATA" if os.environ.get("REWARDLAB_DATA") else "the package"
        raise invalid("data", f"{name} is not in {data_dir()} ({where}); unset REWARDLAB_DATA to use the bundled data")
    return p
