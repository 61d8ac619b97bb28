"""``rewardlab bon``: soft best-of-N with shaped vs raw rewards on gold-labelled candidates (win-tie
rates); with ``--curve``, the hard best-of-N golden-reward curve over N of every member and rule."""

from __future__ import annotations

import argparse
import json

from rewardlab.cli._common import AGGREGATES, add_common, count_at_least, progress, say
from rewardlab.errors import InvalidInputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    from rewardlab.shaping import SHAPINGS

    p = sub.add_parser("bon", help="soft best-of-N with shaped vs raw rewards on gold-labelled candidates (win-tie rates)")
    p.add_argument("--model", metavar="DIR", help="the reward model r_U: a model folder or hf:PATH")
    p.add_argument("--simulate-noise", type=float, default=None, metavar="SIGMA",
                   help="instead of a model: r_U = gold/std(gold) + SIGMA * N(0, 1), a reward of known quality")
    p.add_argument("--data", required=True, metavar="FILE", help="reward-bench-bon style jsonl[.gz]")
    p.add_argument("--shaping", choices=SHAPINGS, default="stackelberg")
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean",
                   help="how the ensemble's members make r_U: mean, min, median or uwo (mean - std) (default mean)")
    p.add_argument("--member", type=count_at_least(0), default=None, metavar="K",
                   help="r_U = member K of the ensemble alone (0-based) instead of the aggregate")
    p.add_argument("--curve", action="store_true",
                   help="also: best-of-N golden reward against N (exact over all N-subsets) for every member and rule, with bootstrap intervals over prompts")
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
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rewardlab.data.best_of_n import load_bon
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.pipeline import score_members
    from rewardlab.studies.best_of_n import bon_experiment
    from rewardlab.models import RewardModel

    if (args.model is None) == (args.simulate_noise is None):
        raise InvalidInputError("model: give either --model DIR or --simulate-noise SIGMA (not both)")
    bon = load_bon(args.data, limit=args.limit)
    say(f"{bon.report.summary()}; {bon.gold.shape[1]} labelled candidates per prompt")
    members = None
    if args.simulate_noise is not None:
        if args.member is not None:
            raise InvalidInputError("member: a simulated reward has no members; drop --member or give --model")
        if not args.simulate_noise >= 0:
            raise InvalidInputError(f"simulate_noise: must be >= 0, got {args.simulate_noise}")
        # a simulated reward model with known signal: the gold preference plus Gaussian noise
        rng = np.random.default_rng(args.seed + 1)
        scores = bon.gold / bon.gold.std() + args.simulate_noise * rng.standard_normal(bon.gold.shape)
    else:
        from rewardlab.models.evaluate import CLI_RULES

        model = RewardModel.load(args.model)
        if args.member is not None and args.member >= len(model.members):
            raise InvalidInputError(f"member: the model has {len(model.members)} members (0..{len(model.members) - 1}), got {args.member}")
        members = score_members(model, bon.prompts, bon.candidates, args.cache_dir, progress(args))  # float32, as r_U always was
        if args.member is not None:
            scores = members[args.member].astype(np.float64).reshape(bon.gold.shape)
        else:
            method, kw = CLI_RULES[args.aggregate]
            scores = aggregate(members, method, **kw).value.astype(np.float64).reshape(bon.gold.shape)
    result = bon_experiment(
        scores, bon.gold, shaping=args.shaping, betas=args.beta or [0.1, 0.3, 1.0], ns=args.n or sorted({min(4, bon.gold.shape[1]), bon.gold.shape[1]}),
        B=args.B, b_over_beta=args.b_over_beta, exponent_cap=None if args.no_caps else 2.0,
        range_factor=None if args.no_caps else 2.0, alpha=args.alpha, repeats=args.repeats, seed=args.seed,
    )
    result["aggregate"] = args.aggregate if args.model is not None and args.member is None else None
    result["member"] = args.member
    if args.curve:
        result["curves"] = _curves(bon.gold, {"r_U": scores} if members is None else _member_proxies(members), args.seed)
    if args.json:
        print(json.dumps(result))
        return 0
    say(f"soft best-of-N, '{args.shaping}' shaping vs raw reward, {bon.gold.shape[0]} prompts, "
          f"{'B/beta=%g' % args.b_over_beta if args.b_over_beta else 'B=%g' % args.B}"
          f"{'' if args.no_caps else ' (clipped to 2x range, B/beta capped at 2 in F)'}, alpha={args.alpha}, {args.repeats} candidate draws per prompt")
    say(f"{'N':>3}{'beta':>7}{'win':>6}{'tie':>6}{'loss':>6}{'win-tie':>9}{'95% CI':>17}"
          f"{'gold raw':>10}{'shaped':>9}{'diff 95% CI':>28}{'hard BoN':>10}{'random':>8}{'oracle':>8}")
    for r in result["rows"]:
        say(f"{r['n']:>3}{r['beta']:>7.2f}{r['win']:>6}{r['tie']:>6}{r['loss']:>6}{r['win_tie_rate']:>9.3f}"
              f"{'[%.3f, %.3f]' % tuple(r['win_tie_ci95']):>17}{r['gold_raw']:>10.4f}{r['gold_shaped']:>9.4f}"
              f"{'%+.4f [%+.4f, %+.4f]' % (r['gold_diff'], *r['gold_diff_ci95']):>28}"
              f"{r['gold_hard_bon']:>10.4f}{r['gold_random']:>8.4f}{r['gold_oracle']:>8.4f}")
    if args.curve:
        _print_curves(result["curves"])
    return 0


def _member_proxies(members) -> dict:
    """Every member alone and every CLI rule, as r_U candidates, from member scores ``[K, P*N]``."""
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.evaluate import CLI_RULES

    proxies = {f"member {k}": m for k, m in enumerate(members)}
    proxies.update({rule: aggregate(members, m, **kw).value for rule, (m, kw) in CLI_RULES.items()})
    return proxies


def _curves(gold, proxies: dict, seed: int) -> dict:
    """Hard best-of-N by golden reward over N for each proxy (scores of every candidate, in
    ``gold``'s order) and the oracle, with bootstrap intervals over prompts."""
    from rewardlab.models.golden import bon_curve, prompt_bootstrap

    ns = sorted({1, 2, 4, gold.shape[1]} & set(range(1, gold.shape[1] + 1)))
    out = {"ns": ns, "rows": []}
    for name, proxy in {**proxies, "oracle": gold}.items():
        mean, ci = prompt_bootstrap(bon_curve(proxy.reshape(gold.shape), gold, ns), seed=seed)
        out["rows"].append({"proxy": name, "gold": mean.tolist(), "ci95": ci.T.tolist()})
    return out


def _print_curves(curves: dict) -> None:
    ns = curves["ns"]
    say("", f"hard best-of-N: golden reward of the pick, exact over all N-subsets (95% bootstrap interval over prompts at N={ns[-1]})")
    say(f"{'proxy':<10}" + "".join(f"{'N=%d' % n:>9}" for n in ns) + f"{'95% CI':>20}")
    for r in curves["rows"]:
        say(f"{r['proxy']:<10}" + "".join(f"{g:>9.4f}" for g in r["gold"]) + f"{'[%.4f, %.4f]' % tuple(r['ci95'][-1]):>20}")
