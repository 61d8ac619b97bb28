"""What every subcommand shares: argument types and groups, progress and human output.

Nothing here imports torch: ``rewardlab --help`` builds every subcommand's parser."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from rewardlab._utils.console import say as _log
from rewardlab.models.evaluate import CLI_RULES

# the rules a CLI user can pick (numpy only: --help still imports no torch)
AGGREGATES = tuple(CLI_RULES)


def count_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``, refused while parsing (before any data is read)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _device(text: str) -> str:
    from rewardlab.devices import check_device

    try:
        return check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("device: ")) from None


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--dtype``: where the neural models run (see rewardlab.devices)."""
    from rewardlab.devices import DTYPES

    g = p.add_argument_group("hardware")
    g.add_argument("--device", type=_device, default="auto", metavar="DEVICE",
                   help="auto|cpu|cuda|cuda:N|mps for the embedders, LMs and head training (default auto: CUDA when available, else CPU)")
    g.add_argument("--dtype", choices=DTYPES, default="auto",
                   help="precision of the frozen models (default auto: float32 on the CPU, bfloat16 on CUDA where supported); heads train in float32")
    g.add_argument("--max-batch-tokens", type=count_at_least(1), default=None, metavar="N",
                   help="padded tokens per embedding batch, texts sorted by length (default 1024, best measured on a CPU; a GPU wants more, e.g. 16384)")


def add_ray(p: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]``, ``--ray-workers`` and ``--ray-gpus``: embed on Ray Data workers."""
    g = p.add_argument_group("ray")
    g.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="embed on Ray Data workers: a cluster address, or none for $RAY_ADDRESS or else a local Ray (pip install 'rewardlab[ray]')")
    g.add_argument("--ray-workers", type=count_at_least(1), default=2, metavar="N", help="Ray actors, each loading the embedder once (default 2)")
    g.add_argument("--ray-gpus", type=float, default=0.0, metavar="G", help="GPUs per Ray actor (default 0; 1 with --device cuda on a GPU cluster)")


def add_common(p: argparse.ArgumentParser, embeddings: bool = True) -> None:
    """``--cache-dir``, ``--no-cache``, ``--quiet``, ``--device``, ``--dtype``, ``--ray`` and (unless
    ``embeddings`` is False: for the command that writes such files) ``--embeddings``."""
    add_device(p)
    add_ray(p)
    if embeddings:
        p.add_argument("--embeddings", action="append", default=None, metavar="FILE",
                       help="read the vectors of one embedder from a file `rewardlab embed` wrote instead of loading it; repeat for several")
    p.add_argument("--cache-dir", default=None, help="embedding cache folder (default: $REWARDLAB_CACHE/embeddings or ~/.cache/rewardlab/embeddings)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-cache", dest="cache_dir", action="store_false", default=None,
                   help="embed without reading or writing the cache (one-off data too large to keep)")


def add_split(p: argparse.ArgumentParser) -> None:
    """How a preference file is split by prompt, and what a malformed row does."""
    p.add_argument("--dev", type=float, default=0.1, help="fraction of prompts held out for early stopping (default 0.1)")
    p.add_argument("--test", type=float, default=0.1, help="fraction of prompts held out for evaluation (default 0.1)")
    p.add_argument("--split-salt", default="", help="draws a different, still deterministic, split")
    p.add_argument("--strict", action="store_true", help="fail on the first malformed row instead of skipping it")


def progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: stderr is a terminal and ``--quiet`` is off."""
    from rewardlab._utils.console import show_progress

    return show_progress(args.quiet)


def tqdm_or_none(args: argparse.Namespace) -> Any:
    """``tqdm`` where :func:`progress` says bars are wanted, else ``None``."""
    if not progress(args):
        return None
    from tqdm import tqdm

    return tqdm


def say(*lines: str) -> None:
    """Human-readable output: stderr, through the rewardlab logger (stdout is for JSON only)."""
    for line in lines:
        _log(line)


def say_length_baselines(baselines: dict) -> None:
    """Prints :func:`rewardlab.models.baselines.length_baselines` (see ``baseline_lines``)."""
    from rewardlab.models.baselines import baseline_lines

    say(*baseline_lines(baselines))
