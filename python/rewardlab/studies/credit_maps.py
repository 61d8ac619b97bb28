"""Credit maps of correct and wrong GSM8K solutions: where does RREDCoT put the reward?

``gsm8k/example_model_solutions.jsonl`` holds, per test question, four real model solutions
(GPT-3 6B and 175B, fine-tuned or with a verifier) marked ``is_correct``: a GRPO group of four. A
solution's steps are its lines; the last line ``A: <answer>`` is the answer step. The states are
``s_0`` = the question and ``s_k`` = the question plus the first ``k`` lines.

Values use ``step_credit``'s ``"prompt"`` proposal over the group's answers: the completions are the
four ``A: <answer_m>`` lines, ``U_m`` = ``is_correct_m`` and ``q(c_m) = π(c_m | s_0)``. So
``V̂(s_0)`` is the group's success rate (GRPO's baseline), every solution's credit sums to GRPO's
unnormalised advantage ``R − mean(U)``, and a step's credit says how much it raised or lowered the
policy's belief in the group's correct answers. Only groups with both correct and wrong solutions
are used: in the others every ``U`` is equal, GRPO's advantage is 0 and so is every credit.

The question the maps answer without labels: before the answer line is read, does the credit of the
reasoning already separate correct from wrong solutions of the same question? The sum of a
solution's reasoning credit is ``V̂(s_{K−1}) − V̂(s_0)``, and ``V̂(s_0)`` is shared in a group, so
it is measured as how often ``V̂(s_{K−1})`` (the value before the answer step) ranks a correct
solution above a wrong one of the same question (ties count half). The last reasoning line often
states the final number, so this partly measures that the LM can copy it; the same ranking at
``s_{⌊(K−1)/2⌋}`` (half the reasoning lines read) asks whether the earlier steps already tell.
Uniform credit (GRPO) carries no such information: 0.5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rewardlab._utils.console import say
from rewardlab.data import LoadReport, check_limit, finish_report, json_rows
from rewardlab.models.evaluate import mean_interval
from rewardlab.redistribution.traces import StepTrace

MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
ANSWER = "A: "
POSITIONS = ("first", "middle", "last", "answer")  # where a step sits, for the credit profile


@dataclass
class Solution:
    model: str
    steps: list[str]  # reasoning lines, then the "A: <answer>" line
    answer: str
    correct: bool


@dataclass
class Problem:
    question: str
    target: str  # the reference answer (the ground truth's "A: <answer>" line)
    solutions: list[Solution]

    def mixed(self) -> bool:
        n = sum(s.correct for s in self.solutions)
        return 0 < n < len(self.solutions)


def load_problems(path: str | Path, limit: int | None = None, mixed_only: bool = True) -> tuple[list[Problem], LoadReport]:
    """Problems in file order; ``limit`` counts kept problems. A solution whose last line is not
    ``A: <answer>`` is skipped and reported; with ``mixed_only``, problems whose solutions are all
    correct or all wrong are left out (they carry no credit)."""
    check_limit(limit)
    path = Path(path)
    report = LoadReport(path=str(path), format="gsm8k-solutions", unit="problems")
    problems = []
    for line, row in json_rows(path, report, "malformed row"):
        try:
            question = str(row["question"])
            target = str(row["ground_truth"]).strip().split("\n")[-1]
            if not target.startswith(ANSWER):
                raise ValueError("ground_truth")
            target = target[len(ANSWER):].strip()
            found = [(m, row[m]) for m in MODELS if m in row]
            if not found:
                raise KeyError("no solutions")
            sols = []
            for model, s in found:
                lines = [x for x in str(s["solution"]).split("\n") if x.strip()]
                if not lines or not lines[-1].startswith(ANSWER):
                    report.skip(line, "solution without a final 'A: <answer>' line")
                    continue
                if not isinstance(s["is_correct"], bool):
                    raise TypeError("is_correct")
                sols.append(Solution(model, lines, lines[-1][len(ANSWER):].strip(), s["is_correct"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            report.skip(line, "malformed row")
            continue
        p = Problem(question, target, sols)
        if len(sols) < 2 or (mixed_only and not p.mixed()):
            continue
        problems.append(p)
        if limit is not None and len(problems) >= limit:
            break
    finish_report(path, report, len(problems), "problems")
    return problems, report


def step_traces(p: Problem) -> list[StepTrace]:
    """One trace per solution; the group's answer lines are every trace's completions."""
    prompt = f"Question: {p.question}\nAnswer:\n"
    completions = [ANSWER + s.answer for s in p.solutions]
    utility = np.array([float(s.correct) for s in p.solutions])
    return [StepTrace(prompt, [x + "\n" for x in s.steps[:-1]] + [s.steps[-1]], float(s.correct),
                      completions, utility, "prompt") for s in p.solutions]


def credit_maps(lm, problems: Sequence[Problem], progress: bool = False, seed: int = 0) -> dict:
    """Per-solution credit and the summaries of the module doc, for the self-normalised estimator
    (the maps) and, from the same forward passes, the plain IS estimator."""
    from rewardlab.redistribution.traces import credit_from_logprobs, trace_logprobs

    traces = [t for p in problems for t in step_traces(p)]
    log_pis = trace_logprobs(lm, traces, progress)
    sols: list[Solution] = []
    groups: list[int] = []
    for i, p in enumerate(problems):
        sols.extend(p.solutions)
        groups.extend([i] * len(p.solutions))
    correct = np.array([s.correct for s in sols])
    group = np.array(groups)
    out: dict[str, Any] = {"problems": len(problems), "solutions": len(sols), "correct": int(correct.sum()),
           "mean_steps": float(np.mean([len(t.steps) for t in traces]))}
    for name, snis in (("self_normalised", True), ("importance_sampling", False)):
        sc = credit_from_logprobs(traces, log_pis, self_normalised=snis)
        rows = list(sc.rows())
        log_v = [sc.log_values[a:b] for a, b in rows]
        credit = [sc.credit[a:b] for a, b in rows]
        before_answer = np.array([float(np.exp(v[-1])) for v in log_v])  # V̂(s_{K−1})
        halfway = np.array([float(np.exp(v[(len(v) - 1) // 2])) for v in log_v])  # half the reasoning read
        share = np.array([abs(c[-1]) / max(float(np.abs(c).sum()), 1e-300) for c in credit])
        out[name] = {
            "ranking_before_answer": _within_group_ranking(before_answer, correct, group, seed),
            "ranking_halfway": _within_group_ranking(halfway, correct, group, seed),
            "profile": {"correct": _profile([credit[i] for i in np.flatnonzero(correct)]),
                        "wrong": _profile([credit[i] for i in np.flatnonzero(~correct)])},
            "answer_step_share": {"correct": float(share[correct].mean()), "wrong": float(share[~correct].mean())},
            "max_value": float(np.exp(sc.log_values.max())),
        }
        if snis:
            out["maps"] = [
                {"problem": int(g), "model": s.model, "correct": bool(s.correct), "steps": s.steps,
                 "credit": c.tolist(), "log_values": v.tolist()}
                for g, s, c, v in zip(group, sols, credit, log_v)
            ]
    return out


def answer_of(text: str) -> str | None:
    """The first ``A: <answer>`` of a generated continuation, normalised (``None`` if none)."""
    m = re.search(r"(?:^|\n)A:\s*([^\n]*)", text)
    return None if m is None else normalise_answer(m.group(1))


def normalise_answer(a: str) -> str:
    a = a.strip().replace(",", "").replace("$", "").rstrip(".").strip()
    try:
        return repr(float(a))
    except ValueError:
        return a


def monte_carlo_comparison(lm, problems: Sequence[Problem], rollouts: int = 8, max_new_tokens: int = 48,
                           seed: int = 0, progress: bool = False) -> dict:
    """RREDCoT's values against Monte Carlo values on the same states: cost and spread.

    Monte Carlo: ``2 × rollouts`` sampled continuations of every state (temperature 1, at most
    ``max_new_tokens``), utility 1 when the first ``A: <answer>`` line they write equals the
    reference; run as two independent halves so that the spread of the ``2 × rollouts`` mean is
    measured (``RMS(half_a − half_b) / 2``), for values and for the credit. RREDCoT: the
    self-normalised values from the group's four answers, no generation; its spread is the
    jackknife over those answers (leave one out), the part of its randomness that comes from
    which answers the group sampled."""
    from rewardlab.redistribution.prefix_values import TokenCount, monte_carlo_values
    from rewardlab.redistribution import redistribute
    from rewardlab.redistribution.traces import credit_from_logprobs, trace_logprobs

    traces = [t for p in problems for t in step_traces(p)]
    targets = [normalise_answer(p.target) for p in problems for _ in p.solutions]
    start = TokenCount(lm.count.forward_tokens, lm.count.generated_tokens, lm.count.seconds)
    log_pis = trace_logprobs(lm, traces, progress)
    rred_cost = _since(lm.count, start)
    sc = credit_from_logprobs(traces, log_pis, self_normalised=True)
    jack = []
    for t, lp in zip(traces, log_pis):
        m = len(t.completions)
        if m < 3:  # leaving one out must leave two to self-normalise
            continue
        v = np.exp(np.array([credit_from_logprobs([_drop(t, j)], [np.ascontiguousarray(np.delete(lp, j, axis=1))], True).log_values
                             for j in range(m)]))
        jack.append(np.sqrt((m - 1) / m * ((v - v.mean(0)) ** 2).sum(0)))
    start = TokenCount(lm.count.forward_tokens, lm.count.generated_tokens, lm.count.seconds)
    halves = []
    for h in range(2):
        vals: list[np.ndarray] = []
        it: Iterable[StepTrace] = traces
        if progress:
            from tqdm import tqdm

            it = tqdm(traces, desc=f"Monte Carlo half {h + 1}", unit="trace")
        for t, target in zip(it, targets):
            states = ["".join(t.pieces()[: k + 1]) for k in range(len(t.steps))]
            vals.append(monte_carlo_values(lm, states, _is_answer(target), rollouts=rollouts,
                                           max_new_tokens=max_new_tokens, seed=seed + 7919 * h + len(vals)))
        halves.append(np.concatenate(vals))
    mc_cost = _since(lm.count, start)
    mc = (halves[0] + halves[1]) / 2
    outcome = sc.outcome
    mc_credit = [redistribute(v, sc.offsets, outcome) for v in (*halves, mc)]
    rred_v = np.exp(sc.log_values)
    n_traces = len(traces)
    last = sc.offsets[1:] - 1  # the state before the answer step
    correct = np.array([s.correct for p in problems for s in p.solutions])
    group = np.repeat(np.arange(len(problems)), [len(p.solutions) for p in problems])
    return {
        "problems": len(problems), "traces": n_traces, "states": int(sc.offsets[-1]), "rollouts_per_state": 2 * rollouts,
        "max_new_tokens": max_new_tokens,
        "cost_per_trace": {
            "rredcot": {"forward_tokens": rred_cost.forward_tokens / n_traces, "generated_tokens": 0.0,
                        "seconds": rred_cost.seconds / n_traces},
            "monte_carlo": {"forward_tokens": mc_cost.forward_tokens / n_traces,
                            "generated_tokens": mc_cost.generated_tokens / n_traces, "seconds": mc_cost.seconds / n_traces},
        },
        "value_std": {"rredcot_jackknife": float(np.sqrt(np.mean(np.concatenate(jack) ** 2))) if jack else float("nan"),
                      "monte_carlo": float(np.sqrt(np.mean((halves[0] - halves[1]) ** 2)) / 2)},
        "credit_std_monte_carlo": float(np.sqrt(np.mean((mc_credit[0] - mc_credit[1]) ** 2)) / 2),
        "monte_carlo_zero_states": float(np.mean(mc == 0)),
        "value_correlation": float(np.corrcoef(rred_v, mc)[0, 1]) if mc.std() > 0 else float("nan"),
        "ranking_before_answer": {"rredcot": _within_group_ranking(rred_v[last], correct, group, seed),
                                  "monte_carlo": _within_group_ranking(mc[last], correct, group, seed)},
        "values": {"rredcot": rred_v.tolist(), "monte_carlo": mc.tolist(), "offsets": sc.offsets.tolist()},
    }


def _is_answer(target: str | None) -> Callable[[str], float]:
    """The utility of a rollout: 1 when its final answer is ``target``."""
    return lambda text: float(answer_of(text) == target)


def _drop(t: StepTrace, j: int) -> StepTrace:
    keep = [i for i in range(len(t.completions)) if i != j]
    return StepTrace(t.prompt, t.steps, t.outcome, [t.completions[i] for i in keep], t.utility[keep], t.proposal)


def _since(now, start):
    from rewardlab.redistribution.prefix_values import TokenCount

    return TokenCount(now.forward_tokens - start.forward_tokens, now.generated_tokens - start.generated_tokens,
                      now.seconds - start.seconds)


def _within_group_ranking(score: np.ndarray, correct: np.ndarray, group: np.ndarray, seed: int) -> dict:
    """Share of (correct, wrong) pairs of the same problem where the correct one scores higher
    (ties half), with a bootstrap interval over problems."""
    per_problem = []
    for g in np.unique(group):
        sel = group == g
        good, bad = score[sel & correct], score[sel & ~correct]
        if len(good) and len(bad):
            d = good[:, None] - bad[None, :]
            per_problem.append(((d > 0).sum() + 0.5 * (d == 0).sum(), d.size))
    wins = np.array([w for w, _ in per_problem], dtype=float)
    n = np.array([k for _, k in per_problem], dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(wins), size=(2000, len(wins)))
    boot = wins[idx].sum(1) / n[idx].sum(1)
    return {"accuracy": float(wins.sum() / n.sum()), "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
            "pairs": int(n.sum()), "problems": len(per_problem), "uniform_credit": 0.5}


def _profile(credits: list[np.ndarray]) -> dict:
    """Mean and median credit at each position of ``POSITIONS``: the first reasoning step (when
    there are two or more), the middle ones, the last one, and the answer step."""
    by: dict[str, list[float]] = {name: [] for name in POSITIONS}
    for c in credits:
        k = len(c) - 1  # reasoning steps
        for j in range(k):
            by["last" if j == k - 1 else "first" if j == 0 else "middle"].append(c[j])
        by["answer"].append(c[-1])
    return {
        "mean": {n: float(np.mean(v)) if v else float("nan") for n, v in by.items()},
        # normal interval of the mean (t would widen the few-step cells slightly)
        "mean_ci95": {n: list(mean_interval(v)) for n, v in by.items()},
        "median": {n: float(np.median(v)) if v else float("nan") for n, v in by.items()},
        "steps": {n: len(v) for n, v in by.items()},
        "n": len(credits),
    }


def print_credit_maps(r: dict) -> None:
    say(f"credit maps of {r['solutions']} solutions ({r['correct']} correct) to {r['problems']} GSM8K problems "
          f"with mixed outcomes ({r['mean_steps']:.1f} steps on average, the last the answer line)")
    say("does the value before the answer step (and halfway) rank a problem's correct solutions above its wrong ones?")
    say(f"{'estimator':<28}{'before answer':>14}{'95% CI':>17}{'halfway':>9}{'95% CI':>17}{'max V':>9}")
    for name, label in (("self_normalised", "RREDCoT, self-normalised IS"), ("importance_sampling", "RREDCoT, plain IS")):
        e = r[name]
        a, h = e["ranking_before_answer"], e["ranking_halfway"]
        say(f"{label:<28}{a['accuracy']:>14.3f}{'[%.3f, %.3f]' % tuple(a['ci95']):>17}"
              f"{h['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(h['ci95']):>17}{e['max_value']:>9.3g}")
    say(f"{'uniform credit (GRPO)':<28}{0.5:>14.3f}{'':>17}{0.5:>9.3f}")
    prof = r["self_normalised"]["profile"]
    say("mean self-normalised credit of the first, middle and last reasoning steps and of the answer step:")
    say(f"  {'':<8}" + "".join(f"{n:>9}" for n in POSITIONS))
    for which in ("correct", "wrong"):
        p = prof[which]
        say(f"  {which:<8}" + "".join(f"{p['mean'][n]:>+9.3f}" for n in POSITIONS) + f"   ({p['n']} solutions)")
    mc = r.get("monte_carlo")
    if mc:
        c = mc["cost_per_trace"]
        say(f"Monte Carlo baseline on the first {mc['problems']} problems ({mc['states']} states, "
              f"{mc['rollouts_per_state']} rollouts of <= {mc['max_new_tokens']} tokens each):")
        for name in ("rredcot", "monte_carlo"):
            x = c[name]
            say(f"  {name:<12} per trace: {x['forward_tokens']:>9.0f} forward + {x['generated_tokens']:>7.0f} generated tokens, "
                  f"{x['seconds']:>7.2f} s")
        v = mc["value_std"]
        say(f"  value spread: RREDCoT jackknife over the group's answers {v['rredcot_jackknife']:.3f}, "
              f"Monte Carlo {v['monte_carlo']:.3f}; Monte Carlo credit spread {mc['credit_std_monte_carlo']:.3f}; "
              f"states where every rollout failed {mc['monte_carlo_zero_states']:.0%}")
        rk = mc["ranking_before_answer"]
        say(f"  ranking before answer: RREDCoT {rk['rredcot']['accuracy']:.3f}, Monte Carlo {rk['monte_carlo']['accuracy']:.3f}")
    lm = r.get("lm")
    if lm:
        say(f"LM {lm['model']}: {lm['forward_tokens']} forward and {lm['generated_tokens']} generated tokens in {lm['seconds']:.1f} s")
