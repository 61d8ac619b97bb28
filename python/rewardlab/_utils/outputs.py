"""Output paths checked before any work, and files written atomically.

A command that would fail to write its result must say so before it loads data or trains, not
after; and a result file is either the old one or the complete new one, never half written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from pathlib import Path
from typing import IO, Iterator, Sequence

from rewardlab.errors import invalid

STDOUT = "-"


def _nearest_existing(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path(".")


def check_output_file(arg: str, path: str | Path, inputs: Sequence[str | Path] = ()) -> None:
    """``path`` can be written: not a directory, in an existing writable directory, and not one
    of the command's ``inputs`` (``score --data p.jsonl --out p.jsonl`` would replace the data)."""
    if str(path) == STDOUT:
        return
    p = Path(path)
    for f in inputs:
        if p.exists() and Path(f).exists() and os.path.samefile(p, f):
            raise invalid(arg, f"{p} is also the input {f}; writing it would replace the data: choose another name")
    if p.is_dir():
        raise invalid(arg, f"{p} is a directory; give a file name")
    if p.exists() and not p.is_file():
        return  # a device or pipe (/dev/stdout, /dev/null): written in place, errors caught then
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise invalid(arg, f"the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise invalid(arg, f"the folder {parent} is not writable")


def check_output_dir(arg: str, path: str | Path) -> None:
    """``path`` is, or can become, a writable directory (nothing else is in the way)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise invalid(arg, f"{p} exists and is not a directory")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise invalid(arg, f"{base} is not a directory, so {p} cannot be created")
    if not os.access(base, os.W_OK):
        raise invalid(arg, f"{base} is not writable")


@contextlib.contextmanager
def atomic_text(arg: str, path: str | Path) -> Iterator[IO[str]]:
    """A text stream for ``path``: standard output for ``-``; a device or pipe written in place;
    a regular file written to a temporary name beside it and renamed over it when complete."""
    if str(path) == STDOUT:
        yield sys.stdout
        return
    p = Path(path)
    if p.exists() and not p.is_file():
        try:
            with open(p, "w", encoding="utf-8") as fh:
                yield fh
        except OSError as err:
            raise invalid(arg, f"cannot write {p}: {err.strerror or err}") from None
        return
    tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise invalid(arg, f"cannot write {p}: {err.strerror or err}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
