"""The fast/slow/gated experiment: fast-only, slow-only and gated judges (and the other fast/slow
combinations) on held-out items, the gate calibrated on a dev half, and accuracy against tokens
across slow rates.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab._utils.console import say
from rewardlab.data.pairs import PreferencePair
from rewardlab.data.splits import unit_hash
from rewardlab.errors import InvalidInputError, invalid
from rewardlab.fastslow import (
    Gate,
    LMJudge,
    correctness,
    ensemble_fast_scores,
    lm_fast_scores,
    pairs_to_items,
)
from rewardlab.models.evaluate import wilson_interval


def _rows(c2: np.ndarray | None, which: np.ndarray) -> np.ndarray | None:
    """The selected items' second confidence (absent stays absent)."""
    return None if c2 is None else c2[which]


def _json_float(x: float) -> float | str:
    """Thresholds may be ±inf, which strict JSON cannot hold: those become "inf" / "-inf"."""
    return float(x) if np.isfinite(x) else ("inf" if x > 0 else "-inf")


def _summary(name: str, correct: np.ndarray, tokens: np.ndarray, slow_rate: float, **extra) -> dict:
    n = len(correct)
    acc = float(correct.mean())
    return {"judge": name, "n": n, "accuracy": acc, "ci95": list(wilson_interval(float(correct.sum()), n)),
            "slow_rate": float(slow_rate), "tokens_per_item": float(tokens.mean()), **extra}


def judge_experiment(
    pairs: Sequence[PreferencePair],
    judge: LMJudge,
    ensemble=None,
    *,
    slow_rate: float | None = 0.3,
    token_budget: float | None = None,
    shape: str = "mass",
    dev_fraction: float = 0.5,
    rates: Sequence[float] = tuple(np.linspace(0, 1, 11)),
    cache_dir=None,
    progress=None,
) -> dict:
    """Fast-only, slow-only and gated accuracy and tokens on the test half of ``pairs`` (the gate
    is calibrated on the dev half), for each fast/slow combination available:
    LM first token → LM chain of thought (F/S-RM), ensemble → LM, and LM → ensemble.

    The slow path runs on every item once (that is the always-slow judge); a gated judge's
    verdicts are then the slow ones on its routed items, which is exactly what it would have
    computed (greedy decoding), so every threshold is evaluated without running the LM again.
    """
    if token_budget is not None:
        slow_rate = None
    if not 0.0 < dev_fraction < 1.0:
        raise invalid("dev_fraction", f"must be in (0, 1), got {dev_fraction}")
    if len(pairs) < 4:
        raise invalid("pairs", f"need at least 4 pairs (a dev and a test half), got {len(pairs)}")
    items, label = pairs_to_items(pairs)
    dev = np.array([unit_hash(p.group, "judge-dev") < dev_fraction for p in pairs])
    if dev.all() or not dev.any():
        dev = np.arange(len(pairs)) % 2 == 0  # too few prompts for a hash split
    test = ~dev

    lm_fast = lm_fast_scores(judge, items, shape, progress)
    slow = judge.slow(items, progress)
    fast_paths = {"lm": lm_fast}
    if ensemble is not None:
        fast_paths["ensemble"] = ensemble_fast_scores(ensemble, items, cache_dir, progress)

    # What each path gets right per item, and what it costs.
    correct = {k: correctness(np.sign(f.score), label) for k, f in fast_paths.items()}
    slow_ok = slow.verdict != 0
    rows = [_summary(f"fast only: {f.name}", correct[k][test], f.tokens[test], 0.0) for k, f in fast_paths.items()]
    # Always slow: an unparseable verdict is a tie (there is no fast score to fall back on).
    rows.append(_summary("slow only: lm chain of thought", correctness(slow.verdict, label)[test], slow.tokens[test], 1.0,
                         parsed=int(slow.parsed[test].sum()), forced=int(slow.forced[test].sum()),
                         unparsed=int((~slow_ok)[test].sum())))

    combos = [("lm", "lm")] + ([("ensemble", "lm"), ("lm", "ensemble")] if ensemble is not None else [])
    curves = {}
    for fast_key, slow_key in combos:
        f = fast_paths[fast_key]
        if slow_key == "lm":
            # An unparseable slow verdict falls back to this fast path's verdict.
            slow_correct = np.where(slow_ok, correctness(slow.verdict, label), correct[fast_key])
            # After the LM's own fast pass, the slow path continues the same sequence (KV cache).
            slow_cost = (slow.tokens_after_fast if fast_key == "lm" else slow.tokens).astype(np.float64)
        else:
            slow_correct, slow_cost = correct[slow_key], fast_paths[slow_key].tokens
        name = f"gated: {fast_key} -> {slow_key}"
        over_budget = False
        try:
            gate = Gate.calibrate(f.c1[dev], _rows(f.c2, dev), slow_rate=slow_rate,
                                  token_budget=token_budget, fast_tokens=f.tokens[dev], slow_tokens=slow_cost[dev])
        except InvalidInputError as err:
            if not str(err).startswith("token_budget"):
                raise
            gate, over_budget = Gate(-np.inf), True  # the fast path alone already spends more
        routed = gate.route(f.c1[test], _rows(f.c2, test))
        acc = np.where(routed, slow_correct[test], correct[fast_key][test])
        tok = f.tokens[test] + np.where(routed, slow_cost[test], 0.0)
        fell_back = int((routed & ~slow_ok[test]).sum()) if slow_key == "lm" else 0
        rows.append(_summary(name, acc, tok, routed.mean(), tau1=_json_float(gate.tau1), tau2=_json_float(gate.tau2), fallback=fell_back,
                             **({"over_budget": True} if over_budget else {})))
        curve = []
        for r in rates:
            g = Gate.calibrate(f.c1[dev], _rows(f.c2, dev), slow_rate=float(r))
            rt = g.route(f.c1[test], _rows(f.c2, test))
            hit = np.where(rt, slow_correct[test], correct[fast_key][test])
            curve.append({"target_slow_rate": float(r), "slow_rate": float(rt.mean()),
                          "tokens_per_item": float((f.tokens[test] + np.where(rt, slow_cost[test], 0.0)).mean()),
                          "accuracy": float(hit.mean()), "ci95": list(wilson_interval(float(hit.sum()), len(hit)))})
        curves[name] = curve
    return {
        "n_pairs": len(pairs), "n_dev": int(dev.sum()), "n_test": int(test.sum()),
        "target": {"slow_rate": slow_rate} if token_budget is None else {"token_budget": token_budget},
        "shape": shape, "mode": judge.config.mode, "on_unparsed": judge.config.on_unparsed,
        "max_new_tokens": judge.config.max_new_tokens,
        "table": rows, "curves": curves,
        "seconds": {"fast_lm": lm_fast.seconds, "slow_lm": slow.seconds,
                    **({"ensemble": fast_paths["ensemble"].seconds} if ensemble is not None else {})},
        "best": best_per_token(rows),
    }


def best_per_token(rows: list[dict]) -> dict:
    """The judge with the highest accuracy above chance per 1000 tokens, among the judges whose
    95% interval lies above chance (None when none does: the claim is then not made), and the
    most accurate."""
    def per_token(r):
        return (r["accuracy"] - 0.5) / max(r["tokens_per_item"], 1e-9) * 1000

    above = [r for r in rows if r["ci95"][0] > 0.5]
    return {"per_token": max(above, key=per_token)["judge"] if above else None,
            "above_chance": [r["judge"] for r in above],
            "accuracy": max(rows, key=lambda r: r["accuracy"])["judge"],
            "per_1k_tokens": {r["judge"]: per_token(r) for r in rows}}


def best_sentence(best: dict) -> str:
    """The report's claim about ``best``, gated on the intervals (Wilson, 95%)."""
    if best["per_token"] is None:
        return (f"No judge's 95% Wilson interval lies above chance (0.5), so none is called better than chance; "
                f"the highest point estimate is {best['accuracy']}.")
    return (f"Best accuracy above chance per token, among the judges whose 95% Wilson interval excludes 0.5 "
            f"({len(best['above_chance'])}): {best['per_token']}. Most accurate: {best['accuracy']}.")


def print_experiment(result: dict, say=say) -> None:
    say(f"{result['n_test']} test pairs (gate calibrated on {result['n_dev']} dev pairs); "
        f"fast mode {result['mode']}, c2 = {result['shape']}, slow: up to {result['max_new_tokens']} new tokens, "
        f"unparsed -> {result['on_unparsed']}")
    say(f"{'judge':<44}{'accuracy':>9}{'95% CI':>17}{'slow':>7}{'tokens/item':>13}")
    for r in result["table"]:
        extra = ""
        if "parsed" in r:
            extra = f"  parsed {r['parsed']}, forced {r['forced']}, unparsed {r['unparsed']}"
        elif r.get("over_budget"):
            extra = "  (its fast path alone spends more than the budget: never slow)"
        elif r.get("fallback"):
            extra = f"  {r['fallback']} fell back to fast"
        say(f"{r['judge']:<44}{r['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(r['ci95']):>17}{r['slow_rate']:>7.2f}"
            f"{r['tokens_per_item']:>13.0f}{extra}")
    for name, curve in result["curves"].items():
        say(f"{name}: accuracy vs tokens/item across slow rates: "
            + ", ".join(f"{c['slow_rate']:.1f}:{c['accuracy']:.3f}@{c['tokens_per_item']:.0f}" for c in curve))
    say(best_sentence(result["best"]))
