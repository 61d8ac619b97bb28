"""``rewardlab embed``: embed a preference file once and write the vectors to a file that
``train``, ``eval`` and ``score`` read with ``--embeddings`` (no model needed there)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rewardlab.cli._common import add_common, progress, say

CHUNK = 4096  # texts embedded (and written) at a time


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    from rewardlab.embed import EMBEDDERS

    p = sub.add_parser("embed", help="embed preference files once into a file that train/eval/score read with --embeddings")
    p.add_argument("--data", action="append", required=True, metavar="FILE",
                   help="preference file (jsonl[.gz], parquet), or best-of-N candidates with golden rewards (reward-bench-bon, for study ensembles); repeat for several")
    p.add_argument("--embedder", required=True, metavar="SPEC", help=f"one of {', '.join(EMBEDDERS)}")
    p.add_argument("--out", required=True, metavar="FILE", help="the embeddings file to write: safetensors, or with a .npy name an array [texts, dim] and a .json sidecar of the texts' keys")
    p.add_argument("--context", choices=("last_turn", "full", "ends"), default="last_turn",
                   help="what of a dialogue is embedded (default last_turn, what train reads by default; ends: cut to the prompt's end and the response's start and end)")
    p.add_argument("--strict", action="store_true", help="fail on the first malformed row instead of skipping it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p, embeddings=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.data import iter_many, load_bon
    from rewardlab.data.pairs import dialogue_texts
    from rewardlab.embed import check_spec, embed_texts, get_embedder
    from rewardlab.embed.cache import text_key
    from rewardlab.embed.precomputed import check_out, write_embeddings
    from rewardlab.errors import InvalidInputError

    check_spec(args.embedder)
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise InvalidInputError(f"out: {out} must be a file in an existing folder")
    check_out(out)
    started = time.perf_counter()
    texts: dict[bytes, str] = {}  # distinct texts, first-seen order (chosen and rejected alike)
    bon_files = [f for f in args.data if _is_best_of_n(f)]
    for f in bon_files:  # best-of-N candidates with golden rewards: what `study ensembles --data` embeds
        bon = load_bon(f)
        for t in dialogue_texts(bon.prompts, bon.candidates, args.context):
            texts.setdefault(text_key(t), t)
        say(bon.report.summary())
    pair_files = [f for f in args.data if f not in bon_files]
    if pair_files:
        stream, reports = iter_many(pair_files, strict=args.strict)
        for pair in stream:
            for t in pair.texts(args.context):
                texts.setdefault(text_key(t), t)
        for r in reports:
            say(r.summary())
    if not texts:
        raise InvalidInputError(f"data: no pair to embed in {', '.join(args.data)}")
    embedder = get_embedder(args.embedder)
    todo = list(texts.values())

    def chunks():
        for a in range(0, len(todo), CHUNK):
            part = todo[a : a + CHUNK]
            yield part, embed_texts(embedder, part, cache_dir=args.cache_dir, progress=progress(args))

    write_embeddings(out, args.embedder, embedder.id, embedder.dim, chunks(), len(todo))
    result = {"out": str(out), "texts": len(todo), "dim": embedder.dim, "embedder": args.embedder,
              "embedder_id": embedder.id, "context": args.context, "bytes": out.stat().st_size,
              "seconds": round(time.perf_counter() - started, 2)}
    if args.json:
        print(json.dumps(result))
    else:
        say(f"wrote {len(todo)} {args.embedder} vectors of dim {embedder.dim} to {out} ({result['bytes'] / 2**20:.1f} MiB) "
            f"in {result['seconds']} s; read them with --embeddings {out}")
    return 0


def _is_best_of_n(path: str) -> bool:
    """Whether ``path`` holds best-of-N candidate sets (reward-bench-bon rows), not pairs."""
    from rewardlab.data.benchmark_rows import first_row

    row = first_row(path)
    return isinstance(row, dict) and "outputs" in row and "instruction" in row
