"""Where output goes: machine output (JSON, JSONL) alone on stdout, everything for people on
stderr through the ``rewardlab`` logger, and progress bars only on an interactive stderr.

The command line calls :func:`configure` once; the library itself never configures logging, so
a program that imports rewardlab decides where its messages go (they are dropped until it does).
"""

from __future__ import annotations

import logging
import sys

LOGGER = logging.getLogger("rewardlab")


class _Stderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test harnesses and callers replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a closed or broken stderr must not take the job down
            self.handleError(record)


def configure(quiet: bool = False) -> None:
    """Human output to stderr (``quiet``: warnings and errors only)."""
    if not any(isinstance(h, _Stderr) for h in LOGGER.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.WARNING if quiet else logging.INFO)
    LOGGER.propagate = False


def say(*parts: object) -> None:
    """One line for people (stderr under the CLI)."""
    LOGGER.info(" ".join(map(str, parts)))


def show_progress(quiet: bool = False) -> bool:
    """Progress bars only where someone watches: stderr is a terminal and not ``quiet``."""
    return not quiet and sys.stderr.isatty()


def quiet_transformers() -> None:
    """transformers' own loading bars and notices stay out of rewardlab's output."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
