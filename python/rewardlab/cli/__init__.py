"""The ``rewardlab`` command line: one subcommand per module, each with ``--help`` and ``--json``.

Each module has ``add_parser(sub)`` and ``run(args)``; heavy imports (torch, transformers) happen
inside ``run``, so that ``rewardlab --help`` stays well under half a second."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from rewardlab.cli import bon, credit, demo, diagnose, judge, score, serve, train
from rewardlab.cli import eval as eval_command
from rewardlab.errors import InvalidInputError

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (train, eval_command, score, bon, diagnose, credit, judge, serve, demo)


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
    if getattr(args, "embedder", None) is None and args.command == "train":
        args.embedder = ["minilm"]
    from rewardlab._utils.console import configure

    configure(quiet=getattr(args, "quiet", False))
    try:
        if hasattr(args, "device"):  # a missing GPU is refused before any data is read
            from rewardlab.devices import set_default

            set_default(args.device, args.dtype, getattr(args, "max_batch_tokens", None))
        if getattr(args, "ray", None) is not None:
            from rewardlab.embed import executors

            executors.set_default(executors.RayExecutor(address=args.ray or None, workers=args.ray_workers,
                                                        num_gpus=args.ray_gpus))
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

