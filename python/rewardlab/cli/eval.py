"""``rewardlab eval``: pairwise accuracy of a model, per member and per aggregation rule."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewardlab.cli._common import AGGREGATES, add_common, progress, say, say_length_baselines
from rewardlab.errors import InvalidInputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("eval", help="pairwise accuracy of a model, per member and per aggregation rule")
    p.add_argument("--model", required=True, metavar="DIR", help="a rewardlab model folder, or hf:PATH (a transformers sequence-classification reward model)")
    p.add_argument("--data", required=True, metavar="FILE")
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean", help="the rule whose accuracy is the headline (default mean)")
    p.add_argument("--split", choices=["auto", "test", "dev", "train", "all"], default="auto",
                   help="auto: every pair the model did not train or early-stop on, recognised by content "
                        "(whatever the file is called); test/dev/train: that split of FILE by prompt")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def _eval_stream(model, args):
    """The pairs to evaluate, as a stream, with the load report (filled as the stream is read),
    the selection's name and a counter of the pairs left out.

    ``--split auto`` leaves out every pair the model trained or early-stopped on, recognised by
    content (a copied, renamed or gzipped file is still recognised); a model saved before it
    recorded its pairs falls back to the held-out split of a file at the same path."""
    from rewardlab.data import LoadReport, iter_pairs, split_of
    from rewardlab.models.pipeline import unseen

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


def run(args: argparse.Namespace) -> int:
    from rewardlab.models.evaluate import CLI_RULES, ensemble_accuracy
    from rewardlab.models import RewardModel
    from rewardlab.models.baselines import length_baselines, outcomes, response_words
    from rewardlab.models.pipeline import score_stream

    import numpy as np

    from rewardlab.data.benchmark_rows import first_row
    from rewardlab.data.reward_bench import looks_like_reward_bench
    from rewardlab.data.rm_bench import looks_like_rm_bench

    model = RewardModel.load(args.model)
    first = first_row(args.data)  # which layout: a benchmark's, or preference pairs
    if looks_like_rm_bench(first):
        return _run_rm_bench(model, args)
    if looks_like_reward_bench(first):
        return _run_reward_bench(model, args)
    pairs, report, which, excluded = _eval_stream(model, args)
    chosen, rejected = [], []  # member scores only: [K, n] per chunk, never the texts
    words, groups = [], []  # per pair: response lengths and prompt group, for the length baselines
    for block, c, r in score_stream(model, pairs, args.cache_dir, progress(args)):
        chosen.append(c)
        rejected.append(r)
        words += [(response_words(p.chosen), response_words(p.rejected)) for p in block]
        groups += [p.group for p in block]
    say(report.summary())
    if which == "unseen":
        say(f"left out {excluded[0]} pairs the model trained or early-stopped on (recognised by content)")
    if not chosen:
        raise InvalidInputError(f"split: no pair of {args.data} is left to evaluate ({which})")
    rules = tuple((name, method, kw) for name, (method, kw) in CLI_RULES.items())
    chosen_all, rejected_all = np.concatenate(chosen, axis=1), np.concatenate(rejected, axis=1)
    result = ensemble_accuracy(chosen_all, rejected_all, rules)
    head = result["aggregations"][args.aggregate]
    per_pair = outcomes(_by_rule(chosen_all, args.aggregate), _by_rule(rejected_all, args.aggregate))
    lengths = np.asarray(words, np.int64).reshape(-1, 2)
    baselines = length_baselines(per_pair, lengths[:, 0], lengths[:, 1], groups)
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
        "length_baselines": baselines,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    lo, hi = out["accuracy_ci95"]
    say(f"{out['n_pairs']} pairs ({which} split): accuracy {out['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] with '{args.aggregate}'")
    say(f"{'rule':<10}{'accuracy':>10}{'95% CI':>20}")
    for name, v in out["aggregations"].items():
        say(f"{name:<10}{v['accuracy']:>10.3f}{'[%.3f, %.3f]' % tuple(v['accuracy_ci95']):>20}")
    say(f"members: {', '.join(f'{a:.3f}' for a in out['members'])} (mean {out['mean_member_accuracy']:.3f})")
    say_length_baselines(baselines)
    return 0


def _by_rule(member_scores, rule: str):
    """Per-item scores ``[N]`` of ``[K, N]`` member scores under the CLI's aggregation ``rule``."""
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.evaluate import CLI_RULES

    method, kw = CLI_RULES[rule]
    return aggregate(member_scores, method, **kw).value


def _run_rm_bench(model, args: argparse.Namespace) -> int:
    """RM-Bench: easy / normal / hard accuracies over the 3 x 3 style grids, per domain, beside
    the same accuracies of the length baselines and the model's paired difference to them."""
    import numpy as np

    from rewardlab.data.pairs import dialogue_text
    from rewardlab.data.rm_bench import load_rm_bench
    from rewardlab.models.baselines import response_words
    from rewardlab.models.pipeline import DEFAULT_CONTEXT
    from rewardlab.models.rm_bench import rm_bench_report

    items, report = load_rm_bench(args.data, strict=args.strict)
    say(report.summary())
    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    responses = [r for it in items for r in (*it.chosen, *it.rejected)]
    texts = [dialogue_text(it.prompt, r, context) for it in items for r in (*it.chosen, *it.rejected)]
    scores = _by_rule(model.score_texts(texts, cache_dir=args.cache_dir, progress=progress(args)), args.aggregate)
    grid = np.asarray(scores, np.float64).reshape(len(items), 2, 3)
    words = np.array([response_words(r) for r in responses], np.float64).reshape(len(items), 2, 3)
    out = rm_bench_report(grid[:, 0], grid[:, 1], [it.domain for it in items],
                          {"longer": (words[:, 0], words[:, 1]), "shorter": (-words[:, 0], -words[:, 1])})
    out.update({"benchmark": "rm-bench", "aggregate": args.aggregate, "skipped_rows": report.n_skipped})
    if args.json:
        print(json.dumps(out))
        return 0
    say(f"RM-Bench, {out['prompts']} prompts ('{args.aggregate}'; a tie counts as wrong; intervals over prompts):")
    say(f"{'':<22}{'easy':>18}{'normal':>18}{'hard':>18}{'average':>18}")

    def row(label: str, acc: dict) -> None:
        cells = "".join(f"{acc[k]['accuracy']:>7.3f} [{acc[k]['ci95'][0]:.2f},{acc[k]['ci95'][1]:.2f}]"
                        for k in ("easy", "normal", "hard", "average"))
        say(f"{label:<22}{cells}")

    row("model", out["all"])
    for d, acc in out["domains"].items():
        row(f"  {d}", acc)
    for name, b in out["baselines"].items():
        row(f"{name} response wins", b["all"])
    for name, b in out["baselines"].items():
        diff = b["model_minus_baseline"]["average"]
        say(f"model minus '{name} wins' (average): {diff['difference']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}]")
    return 0


def _run_reward_bench(model, args: argparse.Namespace) -> int:
    """RewardBench: per-subset accuracy (ties wrong), the section scores weighted by the
    benchmark's example counts and their mean, beside the length baselines."""
    import numpy as np

    from rewardlab.data.reward_bench import load_reward_bench
    from rewardlab.models.baselines import response_words
    from rewardlab.models.pipeline import score_pairs
    from rewardlab.models.reward_bench import reward_bench_report

    rows, report = load_reward_bench(args.data, strict=args.strict)
    say(report.summary())
    pairs = [p for p, _ in rows]
    chosen, rejected = score_pairs(model, pairs, args.cache_dir, progress(args))
    right = (_by_rule(chosen, args.aggregate) > _by_rule(rejected, args.aggregate)).astype(np.float64)
    c = np.array([response_words(p.chosen) for p in pairs])
    r = np.array([response_words(p.rejected) for p in pairs])
    out = reward_bench_report(right, [s for _, s in rows],
                              {"longer": (c > r).astype(np.float64), "shorter": (c < r).astype(np.float64)})
    out.update({"benchmark": "reward-bench", "aggregate": args.aggregate, "skipped_rows": report.n_skipped})
    if args.json:
        print(json.dumps(out))
        return 0
    say(f"RewardBench, {out['pairs']} pairs ('{args.aggregate}'; a tie counts as wrong; sections weighted as the benchmark does):")
    names = [k for k in out["sections"] if k != "score"] + (["score"] if "score" in out["sections"] else [])
    say(f"{'':<22}" + "".join(f"{n:>22}" for n in names))

    def line(label: str, sec: dict, signed: bool = False) -> None:
        fmt = "{:+.3f} [{:+.2f},{:+.2f}]" if signed else "{:.3f} [{:.2f},{:.2f}]"
        say(f"{label:<22}" + "".join(f"{fmt.format(sec[n]['score'], *sec[n]['ci95']):>22}" for n in names))

    line("model", out["sections"])
    for name, b in out["baselines"].items():
        line(f"{name} response wins", b["sections"])
    for name, b in out["baselines"].items():
        line(f"model minus {name}", b["model_minus_baseline"], signed=True)
    if out["unscored_subsets"]:
        say(f"subsets in no RewardBench section (reported per subset only): {', '.join(out['unscored_subsets'])}")
    return 0
