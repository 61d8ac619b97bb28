"""``rewardlab study ensembles``: the ensemble case study of Sun et al. (2025) on golden-reward data."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rewardlab.cli._common import add_common, count_at_least, progress, say


def _numbers(kind: type, low: float) -> object:
    """An argparse type: a comma list of numbers (``inf`` allowed for floats), each > ``low``."""

    def parse(text: str) -> list:
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
        if not values or any(not v > low or (isinstance(v, float) and math.isnan(v)) for v in values):
            raise argparse.ArgumentTypeError(f"each must be > {low:g}, got {text!r}")
        return values

    parse.__name__ = "list"
    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds ``study`` and its one study, ``ensembles``, to ``sub``."""
    from rewardlab.cli.train import LOSS_NAMES  # the losses' names, without importing torch for --help
    from rewardlab.models.annotators import PAIRINGS

    study = sub.add_parser("study", help="research protocols on golden-reward data (study ensembles)")
    studies = study.add_subparsers(dest="study", required=True, metavar="STUDY")
    p = studies.add_parser(
        "ensembles", help="Sun et al.'s ensemble case study: simulated annotators, K-member ensembles, best-of-N by golden reward",
        description="Simulated annotators of quality q label pairs from a golden reward; K heads train on them; every "
                    "member and every ensemble rule (mean, min, median, mean-std, mean-var) picks the best of N "
                    "responses of held-out prompts, judged by the golden reward (docs/models.md).")
    src = p.add_argument_group("data (one of)")
    src.add_argument("--data", metavar="FILE", help="best-of-N candidates with golden rewards (reward-bench-bon jsonl[.gz]); embedded with --embedder")
    src.add_argument("--arrays", nargs=2, metavar=("EMB.npy", "GOLD.npy"),
                     help="precomputed [prompts, responses, D] embeddings and [prompts, responses] golden rewards (the paper's release), memory-mapped")
    p.add_argument("--test-arrays", nargs=2, metavar=("EMB.npy", "GOLD.npy"), help="a separate test set (default: --test-fraction of the prompts)")
    p.add_argument("--test-fraction", type=float, default=0.5, help="prompts held out for best-of-N when there is no separate test set (default 0.5)")
    p.add_argument("--embedder", default="minilm", metavar="SPEC", help="embedder of --data (default minilm)")
    p.add_argument("--context", choices=("last_turn", "full", "ends"), default="last_turn",
                   help="what of --data is embedded: last_turn (default), full, or ends (cut to the prompt's end and the response's start and end)")
    p.add_argument("--limit", type=count_at_least(2), default=None, help="use only the first L prompts of --data")
    p.add_argument("--quality", type=_numbers(float, 0.0), default=[0.1, 0.5, 1.0, 3.0, 10.0, math.inf], metavar="Q,...",
                   help="annotation qualities q (inf: perfect labels; default 0.1,0.5,1,3,10,inf)")
    p.add_argument("--members", type=count_at_least(1), default=5, help="heads per ensemble (default 5)")
    p.add_argument("--pairing", choices=PAIRINGS, default="cross", help="pairs within a prompt or across prompts (default cross, the paper's)")
    p.add_argument("--pairs-per-prompt", type=count_at_least(1), default=10, help="labelled pairs per training prompt (default 10)")
    p.add_argument("--scale", type=float, default=None, help="the annotators' reward scale (default: the golden rewards' std)")
    p.add_argument("--n", type=_numbers(int, 0), default=None, metavar="N,...", help="best-of-N sizes (default 1,2,5,10,30,... up to all responses)")
    p.add_argument("--runs", type=count_at_least(1), default=1, help="repeats with fresh labels, splits and seeds (default 1)")
    p.add_argument("--loss", choices=LOSS_NAMES, default="bt", help="head loss (default bt; cls: the paper's classification head)")
    p.add_argument("--hidden", type=_numbers(int, 0), default=[256], metavar="H,...", help="hidden widths of the MLP head (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="write report.html (tables, curves) and report.json here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def _response_set(args: argparse.Namespace):
    from rewardlab.data.response_sets import ResponseSet, load_arrays
    from rewardlab.errors import InvalidInputError

    if (args.data is None) == (args.arrays is None):
        raise InvalidInputError("data: give either --data FILE or --arrays EMB.npy GOLD.npy")
    if args.arrays is not None:
        return load_arrays(*args.arrays)
    import numpy as np

    from rewardlab.data.best_of_n import load_bon
    from rewardlab.data.pairs import dialogue_texts
    from rewardlab.embed import check_spec, embed_texts, get_embedder

    check_spec(args.embedder)
    bon = load_bon(args.data, limit=args.limit)
    say(f"{bon.report.summary()}; {bon.gold.shape[1]} candidates with golden rewards per prompt")
    texts = dialogue_texts(bon.prompts, bon.candidates, args.context)
    vectors = embed_texts(get_embedder(args.embedder), texts, cache_dir=args.cache_dir, progress=progress(args))
    shape = bon.gold.shape
    return ResponseSet.of(vectors.reshape(shape[0], shape[1], -1).astype(np.float32), bon.gold, source=f"{args.data} ({args.embedder}, {args.context})")


def run(args: argparse.Namespace) -> int:
    from rewardlab.data.response_sets import load_arrays
    from rewardlab.models.training import TrainConfig
    from rewardlab.studies.ensembles import STUDY_CONFIG, ensemble_study
    from rewardlab.studies.ensembles_report import gain_table, header, table_rows, write_report
    from dataclasses import replace

    data = _response_set(args)
    if args.test_arrays is not None:
        train, test = data, load_arrays(*args.test_arrays)
    else:
        train, test = data.split(args.test_fraction, seed=args.seed)
    config: TrainConfig = replace(STUDY_CONFIG, loss=args.loss, hidden=tuple(args.hidden))
    config.validate()
    result = ensemble_study(train, test, args.quality, members=args.members, pairing=args.pairing,
                            pairs_per_prompt=args.pairs_per_prompt, scale=args.scale, ns=args.n, runs=args.runs,
                            config=config, seed=args.seed, progress=None if args.quiet else say)
    result["source"] = data.source
    if args.out:
        page, _ = write_report(result, Path(args.out), "rewardlab: ensembles under label noise (best-of-N by golden reward)")
        say(f"report: {page}")
    if args.json:
        print(json.dumps(result))
        return 0
    ns = result["ns"]
    for row in result["qualities"]:
        say("", f"q = {row['quality']}: {row['label_noise']:.1%} of {row['pairs']} labels wrong "
                f"(expected {row['expected_label_noise']:.1%}); oracle @{ns[-1]}: {result['oracle'][-1]:.4f}")
        _say_table([header(ns), *table_rows(row, ns)])
    say("", f"gain of each rule over a single member at N={ns[-1]} (paired 95% interval; +/-: it excludes 0)")
    head, rows = gain_table(result)
    _say_table([head, *rows])
    return 0


def _say_table(cells: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(cells[0]))]
    for r in cells:
        say("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
