"""``rewardlab demo``: train, evaluate and compare aggregation rules on the bundled data; writes a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from rewardlab.cli._common import add_common, count_at_least, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("demo", help="train, evaluate and compare aggregation rules on the bundled data; writes a report")
    p.add_argument("--out", default="rewardlab-demo", metavar="DIR", help="report folder (default ./rewardlab-demo)")
    p.add_argument("--embedder", default="minilm", metavar="SPEC")
    p.add_argument("--members", type=count_at_least(1), default=5)
    p.add_argument("--bon-prompts", type=count_at_least(0), default=200, metavar="P",
                   help="reward-bench-bon prompts for the best-of-N and teacher sections (default 200; 0 skips them)")
    p.add_argument("--judge-pairs", type=count_at_least(0), default=48, metavar="N",
                   help="held-out test pairs for the fast-slow judge section (default 48; 0 skips it)")
    p.add_argument("--credit-problems", type=count_at_least(0), default=8, metavar="N",
                   help="GSM8K problems with mixed outcomes for the RREDCoT credit-map section (default 8; 0 skips it)")
    p.add_argument("--quick", action="store_true",
                   help="about a minute on a slice of the data (a sixth of the prompts, 3 members, 20 best-of-N prompts, "
                        "no LM sections): checks an installation, not a result")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.studies.demo import run_demo
    from rewardlab.embed import check_spec
    from rewardlab._utils.outputs import check_output_dir

    check_output_dir("out", args.out)
    check_spec(args.embedder)
    run_demo(out=Path(args.out), embedder=args.embedder, members=args.members, cache_dir=args.cache_dir,
             progress=progress(args), as_json=args.json, bon_prompts=args.bon_prompts, judge_pairs=args.judge_pairs,
             credit_problems=args.credit_problems, quick=args.quick)
    return 0
