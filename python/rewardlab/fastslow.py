"""Fast-slow reward scoring (F/S-RM): a cheap fast score for every item, a slow chain-of-thought
judgement only where the dual-confidence gate says the fast score cannot be trusted.

The fast path is an LM judge's first token (``lm_fast_scores``) or an embedding-ensemble reward
model (``ensemble_fast_scores``: its mean margin and the members' agreement are the two
confidences); the slow path is the LM judge's chain of thought (``LMJudge.slow``).
``FastSlowJudge`` runs fast on every item and slow on the gated ones; an unparseable slow verdict
falls back to the fast score and is counted. ``judge_experiment`` measures fast-only, slow-only
and gated judges (and the other fast/slow combinations) on held-out items, calibrating the gate on
a dev half, and traces accuracy against tokens across slow rates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rewardlab.console import say
from rewardlab.data import PreferencePair, dialogue_text
from rewardlab.data.splits import unit_hash
from rewardlab.errors import InvalidInputError, invalid
from rewardlab.evaluate import wilson_interval
from rewardlab.gate import Gate, agreement, intuition, shape_confidence
from rewardlab.judge import JudgeItem, LMJudge


@dataclass
class FastScores:
    """A fast path's output on ``n`` items: log-odds that ``a`` beats ``b`` and its confidences."""

    name: str
    score: np.ndarray
    c1: np.ndarray
    c2: np.ndarray | None
    tokens: np.ndarray  # [n] tokens the fast path read and produced per item
    seconds: float = 0.0


def lm_fast_scores(judge: LMJudge, items: Sequence[JudgeItem], shape: str = "mass", progress=None) -> FastScores:
    f = judge.fast(items, progress)
    c2 = shape_confidence(f.mass, f.top2_gap, f.entropy, shape)
    return FastScores(f"lm-first-token[{judge.config.mode}]", f.score, intuition(f.score), c2, f.tokens.astype(np.float64), f.seconds)


def ensemble_fast_scores(model, items: Sequence[JudgeItem], cache_dir=None, progress=None) -> FastScores:
    """An embedding-ensemble reward model as the fast path: ``score`` = the mean member margin
    ``r(a) − r(b)`` (a Bradley-Terry log-odds), ``c2`` = the members' agreement."""
    from rewardlab.embed import get_embedder
    from rewardlab.pipeline import DEFAULT_CONTEXT

    context = model.meta.get("text_context", DEFAULT_CONTEXT)
    texts = [dialogue_text(it.prompt, r, context) for it in items for r in (it.a, it.b)]
    started = time.perf_counter()
    scores = model.score_texts(texts, cache_dir=cache_dir, progress=progress).astype(np.float64)
    margins = scores[:, 0::2] - scores[:, 1::2]
    mean = margins.mean(axis=0)
    counts = np.zeros(len(texts))
    for e in model.embedders:
        counts += _embedding_tokens(get_embedder(e), texts)
    tokens = counts[0::2] + counts[1::2]
    return FastScores("embedding-ensemble", mean, intuition(mean), agreement(margins), tokens, time.perf_counter() - started)


def _embedding_tokens(embedder, texts: Sequence[str]) -> np.ndarray:
    """Tokens the embedder reads per text (its own tokenizer and length cap; words otherwise)."""
    count = getattr(embedder, "count_tokens", None)
    if count is not None:
        return np.asarray(count(texts), np.float64)
    return np.array([len(t.split()) for t in texts], np.float64)


@dataclass
class GatedVerdicts:
    verdict: np.ndarray  # [n] +1 (a better), −1 (b better), 0 (tie)
    slow: np.ndarray  # [n] bool: routed to the slow path
    fallback: np.ndarray  # [n] bool: routed, but the slow verdict was unparseable: the fast one stands
    fast_tokens: np.ndarray
    slow_tokens: np.ndarray  # 0 where not routed
    seconds: float

    @property
    def tokens(self) -> np.ndarray:
        return self.fast_tokens + self.slow_tokens


class FastSlowJudge:
    """Fast scores for all items, the slow LM judge for the ones the gate routes.

    ``fast`` is ``"lm"`` (the slow judge's own first token, as in F/S-RM) or an embedding-ensemble
    ``RewardModel``; ``shape`` picks the LM's second confidence (see ``rewardlab.gate``).
    """

    def __init__(self, slow_judge: LMJudge, gate: Gate | None = None, fast="lm", shape: str = "mass", cache_dir=None) -> None:
        self.slow_judge, self.gate, self.fast, self.shape, self.cache_dir = slow_judge, gate, fast, shape, cache_dir

    def fast_scores(self, items: Sequence[JudgeItem], progress=None) -> FastScores:
        if isinstance(self.fast, str):
            if self.fast != "lm":
                raise invalid("fast", f"expected 'lm' or a RewardModel, got {self.fast!r}")
            return lm_fast_scores(self.slow_judge, items, self.shape, progress)
        return ensemble_fast_scores(self.fast, items, self.cache_dir, progress)

    def calibrate(self, dev: Sequence[JudgeItem], *, slow_rate: float | None = None, token_budget: float | None = None,
                  progress=None) -> Gate:
        """Thresholds from dev items, without running the slow path on them: for a token budget the
        slow cost of an item is its slow prompt plus ``max_new_tokens`` (the most it can spend)."""
        f = self.fast_scores(dev, progress)
        slow_cost = None
        if token_budget is not None:
            cap = self.slow_judge.config.max_new_tokens
            j = self.slow_judge
            shared = isinstance(self.fast, str)
            slow_cost = np.array([len(j.slow_prompt(it)) - (j.shared_prefix(it) if shared else 0) + cap for it in dev], np.float64)
        self.gate = Gate.calibrate(f.c1, f.c2, slow_rate=slow_rate, token_budget=token_budget,
                                   fast_tokens=f.tokens, slow_tokens=slow_cost)
        return self.gate

    def judge(self, items: Sequence[JudgeItem], progress=None) -> GatedVerdicts:
        if self.gate is None:
            raise invalid("gate", "no gate: pass one or call calibrate() on dev items first")
        started = time.perf_counter()
        f = self.fast_scores(items, progress)
        routed = self.gate.route(f.c1, f.c2)
        verdict = np.sign(f.score).astype(np.int64)
        fallback = np.zeros(len(items), bool)
        slow_tokens = np.zeros(len(items))
        idx = np.flatnonzero(routed)
        if len(idx):
            s = self.slow_judge.slow([items[i] for i in idx], progress)
            ok = s.verdict != 0
            verdict[idx[ok]] = s.verdict[ok]
            fallback[idx[~ok]] = True
            # After the LM's own fast pass the slow path continues the same sequence.
            slow_tokens[idx] = s.tokens_after_fast if isinstance(self.fast, str) else s.tokens
        return GatedVerdicts(verdict, routed, fallback, f.tokens, slow_tokens, time.perf_counter() - started)


# -- the experiment ---------------------------------------------------------------------------

def pairs_to_items(pairs: Sequence[PreferencePair], salt: str = "judge") -> tuple[list[JudgeItem], np.ndarray]:
    """Items with the chosen reply shown as ``a`` for about half of the pairs (a fixed hash of the
    pair decides), and ``label`` = +1 where ``a`` is the chosen reply, −1 where it is ``b``."""
    items, label = [], []
    for p in pairs:
        swap = unit_hash(f"{p.group}|{p.source}|{p.line}|{p.chosen[:64]}", salt) < 0.5
        items.append(JudgeItem(p.prompt, p.rejected, p.chosen) if swap else JudgeItem(p.prompt, p.chosen, p.rejected))
        label.append(-1 if swap else 1)
    return items, np.array(label)


def correctness(verdict: np.ndarray, label: np.ndarray) -> np.ndarray:
    """1 where the verdict agrees with the label, 0.5 for a tie (verdict 0), 0 otherwise."""
    v = np.sign(verdict)
    return np.where(v == 0, 0.5, (v == label).astype(np.float64))


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
            curve.append({"target_slow_rate": float(r), "slow_rate": float(rt.mean()),
                          "tokens_per_item": float((f.tokens[test] + np.where(rt, slow_cost[test], 0.0)).mean()),
                          "accuracy": float(np.where(rt, slow_correct[test], correct[fast_key][test]).mean())})
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
