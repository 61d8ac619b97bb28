"""Does redistributed credit blame the right step? RREDCoT on BIG-Bench Mistake.

Each trace is a question, its chain of thought split into ``steps`` (the segments), the model's
``answer``, the ``target`` and the human-labelled first wrong step ``mistake_index``. The states
are ``s_0`` = the question and ``s_k`` = the question plus the first ``k`` steps. The outcome is
``R = [answer == target]``. Values are estimated without generation, as RREDCoT does, from the
policy's own log-probabilities of two completions, ``c* = "So the answer is <target>."`` and
``c_a = "So the answer is <answer>."`` (the trace's own answer), read from the same passes:

- point IS: ``V̂(s_k) = π(c* | s_k)`` (M = 1, q = 1, U = 1: ``step_credit``'s ``"point"``
  proposal, a lower bound of the value; the traces have no group of sampled answers for the
  ``"prompt"`` proposal);
- self-normalised over both: ``V̂(s_k) = π(c*) / (π(c*) + π(c_a))``, the policy's belief in the
  right answer against the one this trace ends with. It cancels what both share (how likely an
  answer sentence is at this point of the text).

Segment rewards ``r̃_k = V̂(s_k) − V̂(s_{k−1})``, ``r̃_K = R − V̂(s_{K−1})``; the predicted
mistake is the segment with the most negative credit.

Baselines: uniform credit (GRPO gives every step the same advantage, so a pick is a uniform guess
among the K steps: expected accuracy 1/K), always the first step, always the last step.

The last step's credit ``R − V̂(s_{K−1})`` carries the outcome: in a wrong trace it is
``−V̂(s_{K−1})`` and often the most negative, while the labelled first mistake is rarely the last
step. So the table also picks among the reasoning steps only (the value differences
``r̃_1 .. r̃_{K−1}``), beside a random pick among those. Labelled mistakes cluster at a few
step indices, so the table ends with the best fixed index, chosen with hindsight on the same
traces: a ceiling for any rule that looks only at positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab._utils.console import say
from rewardlab.data import LoadReport, check_limit, finish_report, json_rows
from rewardlab.models.evaluate import wilson_interval
from rewardlab.redistribution.traces import StepTrace, credit_from_logprobs, trace_logprobs


@dataclass
class Trace:
    question: str
    steps: list[str]
    answer: str
    target: str
    mistake_index: int | None


def load_traces(path: str | Path, limit: int | None = None, only_mistakes: bool = True) -> tuple[list[Trace], LoadReport]:
    check_limit(limit)
    path = Path(path)
    report = LoadReport(path=str(path), format="big-bench-mistake", unit="traces")
    traces = []
    for line, row in json_rows(path, report, "malformed trace"):
        try:
            steps = row["steps"]
            mi = row["mistake_index"]
            t = Trace(str(row["input"]), [str(s) for s in steps], str(row["answer"]), str(row["target"]),
                      None if mi is None else int(mi))
        except (KeyError, TypeError, ValueError):
            report.skip(line, "malformed trace")
            continue
        if not t.steps or (t.mistake_index is not None and not 0 <= t.mistake_index < len(t.steps)):
            report.skip(line, "no steps or mistake_index out of range")
            continue
        if only_mistakes and t.mistake_index is None:
            continue
        traces.append(t)
        if limit is not None and len(traces) >= limit:
            break
    finish_report(path, report, len(traces), "traces")
    return traces, report


def step_trace(t: Trace) -> StepTrace:
    """The trace for ``step_credit``: completions ``[c*, c_a]`` with utilities ``[1, 0]``."""
    head = f"Q: {t.question}\nA: Let's think step by step.\n"
    return StepTrace(head, [s + "\n" for s in t.steps], float(t.answer.strip() == t.target.strip()),
                     [completion(t.target), completion(t.answer)], np.array([1.0, 0.0]), "point")


def completion(answer: str) -> str:
    return f"So the answer is {answer}."


def localise(lm, traces: Sequence[Trace], progress: bool = False) -> dict:
    """Log-values, segment credit and the localisation table (see module doc)."""
    from dataclasses import replace

    steps = [step_trace(t) for t in traces]
    log_pis = trace_logprobs(lm, steps, progress)
    point = credit_from_logprobs([replace(s, completions=s.completions[:1], utility=s.utility[:1]) for s in steps],
                                 [np.ascontiguousarray(lp[:, :1]) for lp in log_pis])
    normalised = credit_from_logprobs(steps, log_pis, self_normalised=True)
    k = np.diff(point.offsets)
    truth = np.array([t.mistake_index for t in traces])
    n = len(traces)

    def row(name, hits):
        hits = float(np.sum(hits))
        return {"method": name, "accuracy": hits / n, "ci95": list(wilson_interval(hits, n))}

    pred, pred_sn = most_negative(point.credit, point.offsets), most_negative(normalised.credit, normalised.offsets)
    reasoning = most_negative(point.credit, point.offsets, reasoning_only=True)
    reasoning_sn = most_negative(normalised.credit, normalised.offsets, reasoning_only=True)
    table = [
        row("RREDCoT, point IS: pi(target)", pred == truth),
        row("RREDCoT, self-normalised: target vs own answer", pred_sn == truth),
        row("uniform credit (GRPO) = random step", 1.0 / k),
        row("first step", truth == 0),
        row("last step", truth == k - 1),
        row("RREDCoT point IS, reasoning steps only", reasoning == truth),
        row("RREDCoT self-normalised, reasoning steps only", reasoning_sn == truth),
        row("random step among the reasoning steps", np.where(truth < k - 1, 1.0 / np.maximum(k - 1, 1), k == 1)),
        row("best fixed step index (chosen with hindsight)", truth == np.bincount(truth).argmax()),
    ]
    return {
        "traces": n,
        "mean_steps": float(k.mean()),
        "correct_answers": int(point.outcome.sum()),
        "table": table,
        "credit": point.credit.tolist(),
        "credit_self_normalised": normalised.credit.tolist(),
        "offsets": point.offsets.tolist(),
        "predicted": pred.tolist(),
        "predicted_self_normalised": pred_sn.tolist(),
        "predicted_reasoning_only": reasoning.tolist(),
        "predicted_reasoning_only_self_normalised": reasoning_sn.tolist(),
        "mistake_index": truth.tolist(),
    }


def most_negative(credit: np.ndarray, offsets: np.ndarray, reasoning_only: bool = False) -> np.ndarray:
    """Per trace, the step with the most negative credit. ``reasoning_only`` leaves out the last
    step, whose credit ``R − V̂(s_{K−1})`` holds the outcome (a one-step trace predicts step 0)."""
    picks = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        end = b - 1 if reasoning_only and b - a > 1 else b
        picks.append(int(np.argmin(credit[a:end])))
    return np.array(picks, dtype=np.int64)


def print_localisation(result: dict) -> None:
    """The table of ``localise`` (with the LM's cost, as ``rewardlab credit`` adds it)."""
    say(f"mistake localisation on {result['traces']} traces with a labelled first wrong step "
          f"({result['mean_steps']:.1f} steps on average; {result['correct_answers']} reach the target anyway)")
    say(f"{'method':<48}{'accuracy':>9}{'95% CI':>18}")
    for r in result["table"]:
        say(f"{r['method']:<48}{r['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(r['ci95']):>18}")
    lm = result["lm"]
    say(f"values from {lm['model']}: {lm['forward_tokens']} forward tokens in {lm['seconds']:.1f} s, no generation")
