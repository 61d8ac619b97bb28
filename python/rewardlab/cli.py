"""The ``rewardlab`` command line: one subcommand per job, each with ``--help`` and ``--json``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from rewardlab.errors import InvalidInputError


def count_at_least(low: int):
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


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", default=None, help="embedding cache folder (default: $REWARDLAB_CACHE/embeddings or ~/.cache/rewardlab/embeddings)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-cache", dest="cache_dir", action="store_false", default=None,
                   help="embed without reading or writing the cache (one-off data too large to keep)")


def _add_split(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dev", type=float, default=0.1, help="fraction of prompts held out for early stopping (default 0.1)")
    p.add_argument("--test", type=float, default=0.1, help="fraction of prompts held out for evaluation (default 0.1)")
    p.add_argument("--split-salt", default="", help="draws a different, still deterministic, split")
    p.add_argument("--strict", action="store_true", help="fail on the first malformed row instead of skipping it")


def _progress(args) -> bool:
    from rewardlab.console import show_progress

    return show_progress(args.quiet)


def _say(args, *lines: str) -> None:
    """Human-readable output: stderr, through the rewardlab logger (stdout is for JSON only)."""
    from rewardlab.console import say

    for line in lines:
        say(line)


def cmd_train(args) -> int:
    from rewardlab.embed import check_spec
    from rewardlab.models import TrainConfig
    from rewardlab.outputs import check_output_dir
    from rewardlab.data import check_fractions, iter_many
    from rewardlab.pipeline import Timer, fit_model, stream_split_features

    # every argument is checked before any data is read
    check_output_dir("out", args.out)
    config = TrainConfig(
        loss=args.loss,
        hidden=tuple(args.hidden),
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        bootstrap=not args.no_bootstrap,
        seed=args.seed,
    )
    config.validate()
    for spec in args.embedder:
        check_spec(spec)
    check_fractions(args.dev, args.test)
    split = {"dev": args.dev, "test": args.test, "salt": args.split_salt}
    started = time.perf_counter()
    timer = Timer()
    reports = []

    def pairs():  # read twice: once to size the feature arrays, once to fill them
        stream, reports[:] = iter_many(args.data, strict=args.strict)
        return stream

    t = time.perf_counter()
    train, dev, sizes, seen = stream_split_features(pairs, args.embedder, split, args.cache_dir, _progress(args))
    timer.add("embed", t)
    for r in reports:
        _say(args, r.summary())
    meta = {
        "data": [str(Path(p).resolve()) for p in args.data],
        "split": split,
        "load_reports": [r.to_dict() for r in reports],
    }
    t = time.perf_counter()
    model = fit_model(train, dev, args.embedder, config, args.members, sizes, meta, seen=seen)
    timer.add("train", t)
    model.save(args.out)
    out = {
        "out": str(args.out),
        "members": len(model.members),
        "embedders": model.embedders,
        "split_sizes": sizes,
        "seconds": {**{k: round(v, 2) for k, v in timer.stages.items()}, "total": round(time.perf_counter() - started, 2)},
    }
    if args.json:
        print(json.dumps(out))
    else:
        _say(args, f"trained {out['members']} members on {sizes['train']} pairs in {out['seconds']['train']} s "
             f"(embedding {out['seconds']['embed']} s); saved to {args.out}")
    return 0


def _eval_stream(model, args):
    """The pairs to evaluate, as a stream, with the load report (filled as the stream is read),
    the selection's name and a counter of the pairs left out.

    ``--split auto`` leaves out every pair the model trained or early-stopped on, recognised by
    content (a copied, renamed or gzipped file is still recognised); a model saved before it
    recorded its pairs falls back to the held-out split of a file at the same path."""
    from rewardlab.data import LoadReport, iter_pairs, split_of
    from rewardlab.pipeline import unseen

    report = LoadReport(path=str(args.data), format="auto")
    pairs = iter_pairs(args.data, report, strict=args.strict)
    excluded = [0]
    which = args.split
    if which == "auto" and model.seen_pairs is not None:
        return unseen(model, pairs, excluded), report, "unseen", excluded
    if which == "auto":
        which = "test" if str(Path(args.data).resolve()) in set(model.meta.get("data", [])) else "all"
    if which != "all":
        sp = model.meta.get("split", {"dev": 0.1, "test": 0.1, "salt": ""})
        pairs = (p for p in pairs if split_of(p.group, sp["dev"], sp["test"], sp["salt"]) == which)
    return pairs, report, which, excluded


def cmd_eval(args) -> int:
    from rewardlab.evaluate import CLI_RULES, ensemble_accuracy
    from rewardlab.models import RewardModel
    from rewardlab.pipeline import score_stream

    import numpy as np

    model = RewardModel.load(args.model)
    pairs, report, which, excluded = _eval_stream(model, args)
    chosen, rejected = [], []  # member scores only: [K, n] per chunk, never the texts
    for _, c, r in score_stream(model, pairs, args.cache_dir, _progress(args)):
        chosen.append(c)
        rejected.append(r)
    _say(args, report.summary())
    if which == "unseen":
        _say(args, f"left out {excluded[0]} pairs the model trained or early-stopped on (recognised by content)")
    if not chosen:
        raise InvalidInputError(f"split: no pair of {args.data} is left to evaluate ({which})")
    rules = tuple((name, method, kw) for name, (method, kw) in CLI_RULES.items())
    result = ensemble_accuracy(np.concatenate(chosen, axis=1), np.concatenate(rejected, axis=1), rules)
    head = result["aggregations"][args.aggregate]
    out = {
        "n_pairs": result["n_pairs"],
        "split": which,
        "aggregate": args.aggregate,
        "accuracy": head["accuracy"],
        "accuracy_ci95": head["ci95"],
        "aggregations": {k: {"accuracy": v["accuracy"], "accuracy_ci95": v["ci95"]} for k, v in result["aggregations"].items()},
        "members": [m["accuracy"] for m in result["members"]],
        "mean_member_accuracy": result["mean_member_accuracy"],
        "skipped_rows": report.n_skipped,
        "excluded_seen_pairs": excluded[0],
    }
    if args.json:
        print(json.dumps(out))
        return 0
    lo, hi = out["accuracy_ci95"]
    _say(args, f"{out['n_pairs']} pairs ({which} split): accuracy {out['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] with '{args.aggregate}'")
    _say(args, f"{'rule':<10}{'accuracy':>10}{'95% CI':>20}")
    for name, v in out["aggregations"].items():
        _say(args, f"{name:<10}{v['accuracy']:>10.3f}{'[%.3f, %.3f]' % tuple(v['accuracy_ci95']):>20}")
    _say(args, f"members: {', '.join(f'{a:.3f}' for a in out['members'])} (mean {out['mean_member_accuracy']:.3f})")
    return 0


def cmd_score(args) -> int:
    from rewardlab.data import LoadReport, iter_pairs
    from rewardlab.ensemble import aggregate
    from rewardlab.evaluate import CLI_RULES
    from rewardlab.models import RewardModel
    from rewardlab.outputs import atomic_text, check_output_file
    from rewardlab.pipeline import score_stream

    check_output_file("out", args.out)
    model = RewardModel.load(args.model)
    report = LoadReport(path=str(args.data), format="auto")
    method, kw = CLI_RULES[args.aggregate]
    n = 0
    with atomic_text("out", args.out) as out:  # streamed: memory is one chunk of pairs
        for pairs, chosen, rejected in score_stream(model, iter_pairs(args.data, report, strict=args.strict),
                                                    args.cache_dir, _progress(args)):
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
    _say(args, report.summary())
    if args.out != "-":
        _say(args, f"wrote {n} scored pairs ({args.aggregate}) to {args.out}")
    return 0


def cmd_bon(args) -> int:
    import numpy as np

    from rewardlab.bon import bon_experiment, load_bon, score_candidates
    from rewardlab.models import RewardModel

    if (args.model is None) == (args.simulate_noise is None):
        raise InvalidInputError("model: give either --model DIR or --simulate-noise SIGMA (not both)")
    bon = load_bon(args.data, limit=args.limit)
    _say(args, f"{bon.report.summary()}; {bon.gold.shape[1]} labelled candidates per prompt")
    if args.simulate_noise is not None:
        if not args.simulate_noise >= 0:
            raise InvalidInputError(f"simulate_noise: must be >= 0, got {args.simulate_noise}")
        # a simulated reward model with known signal: the gold preference plus Gaussian noise
        rng = np.random.default_rng(args.seed + 1)
        scores = bon.gold / bon.gold.std() + args.simulate_noise * rng.standard_normal(bon.gold.shape)
    else:
        scores = score_candidates(RewardModel.load(args.model), bon, args.cache_dir, _progress(args))
    result = bon_experiment(
        scores, bon.gold, shaping=args.shaping, betas=args.beta or [0.1, 0.3, 1.0], ns=args.n or sorted({min(4, bon.gold.shape[1]), bon.gold.shape[1]}),
        B=args.B, b_over_beta=args.b_over_beta, exponent_cap=None if args.no_caps else 2.0,
        range_factor=None if args.no_caps else 2.0, alpha=args.alpha, repeats=args.repeats, seed=args.seed,
    )
    if args.json:
        print(json.dumps(result))
        return 0
    _say(args, f"soft best-of-N, '{args.shaping}' shaping vs raw reward, {bon.gold.shape[0]} prompts, "
          f"{'B/beta=%g' % args.b_over_beta if args.b_over_beta else 'B=%g' % args.B}"
          f"{'' if args.no_caps else ' (clipped to 2x range, B/beta capped at 2 in F)'}, alpha={args.alpha}, {args.repeats} candidate draws per prompt")
    _say(args, f"{'N':>3}{'beta':>7}{'win':>6}{'tie':>6}{'loss':>6}{'win-tie':>9}{'95% CI':>17}"
          f"{'gold raw':>10}{'shaped':>9}{'diff 95% CI':>22}{'hard BoN':>10}{'random':>8}{'oracle':>8}")
    for r in result["rows"]:
        _say(args, f"{r['n']:>3}{r['beta']:>7.2f}{r['win']:>6}{r['tie']:>6}{r['loss']:>6}{r['win_tie_rate']:>9.3f}"
              f"{'[%.3f, %.3f]' % tuple(r['win_tie_ci95']):>17}{r['gold_raw']:>10.4f}{r['gold_shaped']:>9.4f}"
              f"{'%+.4f [%+.4f, %+.4f]' % (r['gold_diff'], *r['gold_diff_ci95']):>22}"
              f"{r['gold_hard_bon']:>10.4f}{r['gold_random']:>8.4f}{r['gold_oracle']:>8.4f}")
    return 0


def cmd_diagnose(args) -> int:
    from rewardlab.bon import load_bon
    from rewardlab.diagnostics import diagnose_bon
    from rewardlab.models import RewardModel

    names = [Path(m).resolve().name or str(m) for m in args.model]
    if len(set(names)) != len(names):  # two folders with the same last name: use the paths as given
        names = list(args.model)
    models = {n: RewardModel.load(m) for n, m in zip(names, args.model)}
    bon = load_bon(args.data, limit=args.limit)
    _say(args, bon.report.summary())
    result = diagnose_bon(models, bon, members=not args.no_members, cache_dir=args.cache_dir, progress=_progress(args))
    if args.json:
        print(json.dumps(result))
        return 0
    _say(args, f"teacher report: {result['prompts']} prompts, {result['policy_samples']} policy samples "
          f"(variance), {result['gold_pairs']} gold-labelled pairs (accuracy)")
    _say(args, f"{'reward model':<28}{'accuracy':>9}{'95% CI':>17}{'rank':>5}{'variance':>10}{'95% CI':>17}{'rank':>5}")
    for r in result["rows"]:
        _say(args, f"{r['name']:<28}{r['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(r['accuracy_ci95']):>17}{r['accuracy_rank']:>5}"
              f"{r['variance']:>10.3f}{'[%.3f, %.3f]' % tuple(r['variance_ci95']):>17}{r['variance_rank']:>5}")
    _say(args, "variance: mean over prompts of the per-prompt variance of rewards standardised over all "
          "policy samples (Razin et al. 2025); higher = faster policy-gradient teacher")
    return 0


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


def cmd_credit(args) -> int:
    from rewardlab.prefix_values import PrefixLM

    kind = _credit_data_kind(args.data)
    if args.monte_carlo is not None and kind != "solutions":
        raise InvalidInputError("monte_carlo: the Monte Carlo comparison runs on GSM8K model solutions")
    if args.monte_carlo is not None and args.monte_carlo < 1:
        raise InvalidInputError(f"monte_carlo: rollouts per state must be at least 1, got {args.monte_carlo}")
    if kind == "solutions":
        from rewardlab.credit_maps import load_problems

        loaded, report = load_problems(args.data, limit=args.limit)
    else:
        from rewardlab.mistakes import load_traces

        loaded, report = load_traces(args.data, limit=args.limit)
    _say(args, report.summary())
    lm = PrefixLM.load(args.model, batch_size=args.batch_size)
    if kind == "solutions":
        from rewardlab.credit_maps import credit_maps, monte_carlo_comparison

        result = credit_maps(lm, loaded, progress=_progress(args))
        if args.monte_carlo is not None:
            result["monte_carlo"] = monte_carlo_comparison(lm, loaded, rollouts=args.monte_carlo,
                                                           max_new_tokens=args.max_new_tokens, progress=_progress(args))
    else:
        from rewardlab.mistakes import localise

        result = localise(lm, loaded, progress=_progress(args))
    result["lm"] = {"model": args.model, "forward_tokens": lm.count.forward_tokens,
                    "generated_tokens": lm.count.generated_tokens, "seconds": round(lm.count.seconds, 2)}
    if args.json:
        print(json.dumps(result))
    elif kind == "solutions":
        from rewardlab.credit_maps import print_credit_maps

        print_credit_maps(result)
    else:
        from rewardlab.mistakes import print_localisation

        print_localisation(result)
    return 0


def cmd_judge(args) -> int:
    from rewardlab.data import load_pairs, split_by_prompt
    from rewardlab.fastslow import judge_experiment, print_experiment
    from rewardlab.judge import JudgeConfig, LMJudge

    if args.slow_rate is not None and args.token_budget is not None:
        raise InvalidInputError("slow_rate: give at most one of --slow-rate and --token-budget")
    pairs, report = load_pairs(args.data, strict=args.strict)
    _say(args, report.summary())
    ensemble = None
    if args.ensemble:
        from rewardlab.models import RewardModel

        ensemble = RewardModel.load(args.ensemble)
        # Never judge pairs the ensemble trained on: leave them out by content (or, for a model
        # that does not record them, keep the held-out split of a file it saw).
        if ensemble.seen_pairs is not None:
            from rewardlab.pipeline import unseen

            excluded = [0]
            pairs = list(unseen(ensemble, pairs, excluded))
            _say(args, f"left out {excluded[0]} pairs the ensemble trained or early-stopped on (recognised by content)")
        elif str(Path(args.data).resolve()) in set(ensemble.meta.get("data", [])):
            sp = ensemble.meta.get("split", {"dev": 0.1, "test": 0.1, "salt": ""})
            pairs = split_by_prompt(pairs, dev=sp["dev"], test=sp["test"], salt=sp["salt"]).test
            _say(args, f"the ensemble trained on {args.data}: judging its {len(pairs)} held-out test pairs")
    if args.limit is not None:
        if args.limit < 4:
            raise InvalidInputError(f"limit: need at least 4 pairs, got {args.limit}")
        pairs = pairs[: args.limit]
    config = JudgeConfig(mode=args.mode, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                         on_unparsed="force" if args.force_verdict else "fast")
    judge = LMJudge.load(args.model, config)
    slow_rate = 0.3 if args.slow_rate is None and args.token_budget is None else args.slow_rate
    result = judge_experiment(pairs, judge, ensemble, slow_rate=slow_rate, token_budget=args.token_budget,
                              shape=args.shape, cache_dir=args.cache_dir, progress=_tqdm(args))
    result["model"] = args.model
    if args.json:
        print(json.dumps(result))
    else:
        print_experiment(result)
    return 0


def _tqdm(args):
    if not _progress(args):
        return None
    from tqdm import tqdm

    return tqdm


def cmd_demo(args) -> int:
    from rewardlab.demo import run_demo
    from rewardlab.embed import check_spec
    from rewardlab.outputs import check_output_dir

    check_output_dir("out", args.out)
    check_spec(args.embedder)
    run_demo(out=Path(args.out), embedder=args.embedder, members=args.members, cache_dir=args.cache_dir,
             progress=_progress(args), as_json=args.json, bon_prompts=args.bon_prompts, judge_pairs=args.judge_pairs,
             credit_problems=args.credit_problems, quick=args.quick)
    return 0


# rewardlab.models.LOSSES, named here so that --help needs no torch (a test checks they agree)
LOSS_NAMES = ("bt", "margin", "cls")


def build_parser() -> argparse.ArgumentParser:
    from rewardlab import __version__
    from rewardlab.embed import EMBEDDERS

    parser = argparse.ArgumentParser(prog="rewardlab", description="Reward models without a GPU farm.")
    parser.add_argument("--version", action="version", version=f"rewardlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train an ensemble reward model on frozen embeddings")
    p.add_argument("--data", action="append", required=True, metavar="FILE", help="preference file (jsonl[.gz]); repeat for several")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the model to")
    p.add_argument("--embedder", action="append", default=None, metavar="SPEC",
                   help=f"one of {', '.join(EMBEDDERS)} (default minilm); repeat to alternate embedders across members")
    p.add_argument("--members", type=count_at_least(1), default=5, help="ensemble size K (default 5)")
    p.add_argument("--loss", choices=LOSS_NAMES, default="bt", help="bt (Bradley-Terry), margin (hinge) or cls (classification)")
    p.add_argument("--hidden", type=count_at_least(1), nargs="*", default=[256], help="hidden layer widths (default 256; none = linear)")
    p.add_argument("--epochs", type=count_at_least(1), default=100, help="maximum epochs (early stopping on the dev split)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--no-bootstrap", action="store_true", help="train every member on all training pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_split(p)
    _add_common(p)
    p.set_defaults(func=cmd_train)

    aggs = ["mean", "min", "median", "uwo"]
    p = sub.add_parser("eval", help="pairwise accuracy of a model, per member and per aggregation rule")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", required=True, metavar="FILE")
    p.add_argument("--aggregate", choices=aggs, default="mean", help="the rule whose accuracy is the headline (default mean)")
    p.add_argument("--split", choices=["auto", "test", "dev", "train", "all"], default="auto",
                   help="auto: every pair the model did not train or early-stop on, recognised by content "
                        "(whatever the file is called); test/dev/train: that split of FILE by prompt")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("score", help="score the chosen and rejected responses of a preference file")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", required=True, metavar="FILE")
    p.add_argument("--out", default="-", metavar="FILE", help="jsonl output (default stdout)")
    p.add_argument("--aggregate", choices=aggs, default="mean")
    p.add_argument("--strict", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_score)

    from rewardlab.shaping import SHAPINGS

    p = sub.add_parser("bon", help="soft best-of-N with shaped vs raw rewards on gold-labelled candidates (win-tie rates)")
    p.add_argument("--model", metavar="DIR", help="the reward model r_U")
    p.add_argument("--simulate-noise", type=float, default=None, metavar="SIGMA",
                   help="instead of a model: r_U = gold/std(gold) + SIGMA * N(0, 1), a reward of known quality")
    p.add_argument("--data", required=True, metavar="FILE", help="reward-bench-bon style jsonl[.gz]")
    p.add_argument("--shaping", choices=SHAPINGS, default="stackelberg")
    p.add_argument("--beta", type=float, action="append", help="KL strength; repeat for several (default 0.1, 0.3, 1.0)")
    p.add_argument("--n", type=count_at_least(1), action="append",
                   help="candidates per prompt; repeat for several (default 4 and all the labelled ones: 4, 11 on reward-bench-bon)")
    p.add_argument("--B", type=float, default=15.0, help="reward bound B (default 15, the paper's CD setting)")
    p.add_argument("--b-over-beta", type=float, default=None, help="instead of --B: B as a multiple of beta")
    p.add_argument("--no-caps", action="store_true",
                   help="no clip of B to 2x the prompt's reward range and no cap of B/beta at 2 inside F (the CD code has both)")
    p.add_argument("--alpha", type=float, default=1.0, help="sharpness of the smooth threshold (default 1)")
    p.add_argument("--repeats", type=count_at_least(1), default=5, help="random candidate subsets per prompt (default 5)")
    p.add_argument("--limit", type=count_at_least(1), default=None, help="use only the first L prompts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(p)
    p.set_defaults(func=cmd_bon)

    p = sub.add_parser("diagnose", help="teacher report: on-policy accuracy and reward variance of reward models on best-of-N samples")
    p.add_argument("--model", action="append", required=True, metavar="DIR", help="model folder; repeat to compare several")
    p.add_argument("--data", required=True, metavar="FILE", help="reward-bench-bon style jsonl[.gz]")
    p.add_argument("--no-members", action="store_true", help="only the aggregation rules, not every ensemble member")
    p.add_argument("--limit", type=count_at_least(1), default=None, help="use only the first L prompts")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(p)
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("credit", help="RREDCoT segment credit: mistake localisation on BIG-Bench Mistake, credit maps of GSM8K solutions")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="big-bench-mistake jsonl (input, steps, answer, target, mistake_index): does the credit blame the "
                        "labelled wrong step? or gsm8k/example_model_solutions.jsonl: credit maps of correct and wrong solutions")
    p.add_argument("--model", default="smollm2", metavar="LM", help="causal LM for the prefix values (default smollm2)")
    p.add_argument("--limit", type=count_at_least(1), default=None,
                   help="use only the first L traces with a labelled mistake, or the first L problems with mixed outcomes")
    p.add_argument("--monte-carlo", type=count_at_least(1), default=None, metavar="N",
                   help="GSM8K only: also estimate every state's value from 2 x N sampled rollouts and compare cost and spread")
    p.add_argument("--max-new-tokens", type=count_at_least(1), default=48, help="length of a Monte Carlo rollout (default 48)")
    p.add_argument("--batch-size", type=count_at_least(1), default=8)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_credit)

    from rewardlab.gate import SHAPES

    p = sub.add_parser("judge", help="fast-slow judging: first-token verdicts, chain of thought only where a dual-confidence gate asks")
    p.add_argument("--data", required=True, metavar="FILE", help="preference file (jsonl[.gz])")
    p.add_argument("--model", default="smollm2", metavar="LM", help="causal LM judge: smollm2, a model folder or a .gguf (default smollm2)")
    p.add_argument("--ensemble", default=None, metavar="DIR",
                   help="an embedding-ensemble reward model: adds the ensemble -> LM and LM -> ensemble combinations")
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
    _add_common(p)
    p.set_defaults(func=cmd_judge)

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
    _add_common(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "embedder", None) is None and args.command == "train":
        args.embedder = ["minilm"]
    from rewardlab.console import configure

    configure(quiet=getattr(args, "quiet", False))
    try:
        if getattr(args, "cache_dir", None) not in (None, False):
            from rewardlab.outputs import check_output_dir

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


if __name__ == "__main__":
    sys.exit(main())
