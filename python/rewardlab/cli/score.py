"""``rewardlab score``: score the chosen and rejected responses of a preference file."""

from __future__ import annotations

import argparse
import json

from rewardlab.cli._common import AGGREGATES, add_common, progress, say
from rewardlab.errors import InvalidInputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("score", help="score the chosen and rejected responses of a preference file")
    p.add_argument("--model", required=True, metavar="DIR", help="a rewardlab model folder, or hf:PATH (a transformers sequence-classification reward model)")
    p.add_argument("--data", required=True, metavar="FILE")
    p.add_argument("--out", default="-", metavar="FILE", help="jsonl output (default stdout)")
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--json", action="store_true",
                   help="with --out FILE: print one JSON summary object on stdout (rows, skipped rows, rule, file)")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.data import LoadReport, iter_pairs
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.evaluate import CLI_RULES
    from rewardlab.models import RewardModel
    from rewardlab._utils.outputs import atomic_text, check_output_file
    from rewardlab.models.pipeline import score_stream

    if args.json and args.out == "-":
        raise InvalidInputError("json: the scored rows already go to stdout as JSON lines; give --out FILE with --json")
    check_output_file("out", args.out, [args.data])
    model = RewardModel.load(args.model)
    report = LoadReport(path=str(args.data), format="auto")
    method, kw = CLI_RULES[args.aggregate]
    n = 0
    with atomic_text("out", args.out) as out:  # streamed: memory is one chunk of pairs
        for pairs, chosen, rejected in score_stream(model, iter_pairs(args.data, report, strict=args.strict),
                                                    args.cache_dir, progress(args)):
            c, r = aggregate(chosen, method, **kw), aggregate(rejected, method, **kw)
            for i, p in enumerate(pairs):
                row = {
                    "source": p.source,
                    "line": p.line,
                    "chosen_score": float(c.value[i]),
                    "rejected_score": float(r.value[i]),
                    "chosen_std": float(c.std[i]),
                    "rejected_std": float(r.std[i]),
                    "chosen_members": [float(x) for x in chosen[:, i]],
                    "rejected_members": [float(x) for x in rejected[:, i]],
                }
                out.write(json.dumps(row) + "\n")
            n += len(pairs)
    say(report.summary())
    if args.json:
        print(json.dumps({"out": str(args.out), "n_pairs": n, "aggregate": args.aggregate,
                          "skipped_rows": report.n_skipped, "members": len(model.members)}))
    elif args.out != "-":
        say(f"wrote {n} scored pairs ({args.aggregate}) to {args.out}")
    return 0
