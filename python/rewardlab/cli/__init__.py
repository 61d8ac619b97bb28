"""The ``rewardlab`` command line: one subcommand per module, each with ``--help`` and ``--json``.

Each module has ``add_parser(sub)`` and ``run(args)``; heavy imports (torch, transformers) happen
inside ``run``, so that ``rewardlab --help`` stays well under half a second."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from typing import Sequence

from rewardlab.cli import bon, credit, demo, diagnose, embed, judge, score, serve, study, train
from rewardlab.cli import eval as eval_command
from rewardlab.errors import InvalidInputError

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (embed, train, eval_command, score, bon, diagnose, credit, judge, serve, study, demo)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no torch)."""
    from rewardlab import __version__

    parser = argparse.ArgumentParser(prog="rewardlab", description="Reward models without a GPU farm.")
    parser.add_argument("--version", action="version", version=f"rewardlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one subcommand; returns its exit status (2: bad input, 1: an OS error, 130: interrupted)."""
    args = build_parser().parse_args(argv)
    from rewardlab._utils.console import configure

    configure(quiet=getattr(args, "quiet", False))
    with _process_settings_restored():
        return _run(args)


@contextmanager
def _process_settings_restored():
    """The command's --device, --ray and --embeddings hold for its run only: a caller that runs
    several commands in one process (tests, a notebook) gets its own settings back."""
    from rewardlab import devices
    from rewardlab.embed import executors, precomputed

    saved = devices.default(), executors.default(), precomputed.snapshot()
    try:
        yield
    finally:
        devices.restore(saved[0])
        executors.set_default(saved[1])
        precomputed.restore(saved[2])


def _run(args: argparse.Namespace) -> int:
    try:
        if hasattr(args, "device"):  # a missing GPU is refused before any data is read
            from rewardlab.devices import set_default

            set_default(args.device, args.dtype, getattr(args, "max_batch_tokens", None))
        from rewardlab.embed import executors, precomputed

        # --embeddings: vectors read from files, no model loaded for their embedders
        files = [precomputed.PrecomputedEmbeddings(f) for f in getattr(args, "embeddings", None) or []]
        precomputed.use(files)
        if args.command == "train" and args.embedder is None:
            args.embedder = [f.name for f in files] or ["minilm"]  # train on what the files hold
        ray = getattr(args, "ray", None)
        executors.set_default(None if ray is None else executors.RayExecutor(
            address=ray or None, workers=args.ray_workers, num_gpus=args.ray_gpus))
        if getattr(args, "cache_dir", None) not in (None, False):
            from rewardlab._utils.outputs import check_output_dir

            check_output_dir("cache_dir", args.cache_dir)
        return args.func(args)
    except InvalidInputError as err:
        print(f"rewardlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rewardlab score ... | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0
    except OSError as err:  # the disk filled up, a file vanished: said plainly, no traceback
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"rewardlab {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rewardlab {args.command}: interrupted (cached embeddings so far are kept)", file=sys.stderr)
        return 130

