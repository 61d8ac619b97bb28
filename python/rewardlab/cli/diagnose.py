"""``rewardlab diagnose``: teacher report: on-policy accuracy and reward variance of reward models on best-of-N samples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewardlab.cli._common import add_common, count_at_least, progress, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("diagnose", help="teacher report: on-policy accuracy and reward variance of reward models on best-of-N samples")
    p.add_argument("--model", action="append", required=True, metavar="DIR", help="model folder or hf:PATH; repeat to compare several")
    p.add_argument("--data", required=True, metavar="FILE", help="reward-bench-bon style jsonl[.gz]")
    p.add_argument("--no-members", action="store_true", help="only the aggregation rules, not every ensemble member")
    p.add_argument("--limit", type=count_at_least(1), default=None, help="use only the first L prompts")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.data.best_of_n import load_bon
    from rewardlab.diagnostics import diagnose_bon
    from rewardlab.models import RewardModel

    names = [Path(m).resolve().name or str(m) for m in args.model]
    if len(set(names)) != len(names):  # two folders with the same last name: use the paths as given
        names = list(args.model)
    models = {n: RewardModel.load(m) for n, m in zip(names, args.model)}
    bon = load_bon(args.data, limit=args.limit)
    say(bon.report.summary())
    result = diagnose_bon(models, bon, members=not args.no_members, cache_dir=args.cache_dir, progress=progress(args))
    if args.json:
        print(json.dumps(result))
        return 0
    say(f"teacher report: {result['prompts']} prompts, {result['policy_samples']} policy samples "
          f"(variance), {result['gold_pairs']} gold-labelled pairs (accuracy)")
    say(f"{'reward model':<28}{'accuracy':>9}{'95% CI':>17}{'rank':>5}{'variance':>10}{'95% CI':>17}{'rank':>5}")
    for r in result["rows"]:
        say(f"{r['name']:<28}{r['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(r['accuracy_ci95']):>17}{r['accuracy_rank']:>5}"
              f"{r['variance']:>10.3f}{'[%.3f, %.3f]' % tuple(r['variance_ci95']):>17}{r['variance_rank']:>5}")
    say("variance: mean over prompts of the per-prompt variance of rewards standardised over all "
          "policy samples (Razin et al. 2025); higher = faster policy-gradient teacher")
    return 0
