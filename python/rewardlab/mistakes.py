"""Does redistributed credit blame the right step? RREDCoT on BIG-Bench Mistake.

Each trace is a question, its chain of thought split into ``steps`` (the segments), the model's
``answer``, the ``target`` and the human-labelled first wrong step ``mistake_index``. The states
are ``s_0`` = the question and ``s_k`` = the question plus the first ``k`` steps. The value of a
state is estimated without generation, as RREDCoT does, from the policy's own probability of a
correct completion: ``V̂(s_k) = π(c | s_k)`` with the single completion ``c = "So the answer is
<target>."`` (M = 1, q = 1, U = 1: the IS estimator with a proposal that puts all its mass on one
correct completion, a lower bound of the true value). The outcome is ``R = [answer == target]``.
Segment rewards ``r̃_k = V̂(s_k) − V̂(s_{k−1})``, ``r̃_K = R − V̂(s_{K−1})``; the predicted
mistake is the segment with the most negative credit.

Baselines: uniform credit (GRPO gives every step the same advantage, so a pick is a uniform guess
among the K steps: expected accuracy 1/K), always the first step, always the last step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab.data import DataError, LoadReport, read_lines
from rewardlab.evaluate import wilson_interval


@dataclass
class Trace:
    question: str
    steps: list[str]
    answer: str
    target: str
    mistake_index: int | None


def load_traces(path: str | Path, limit: int | None = None, only_mistakes: bool = True) -> tuple[list[Trace], LoadReport]:
    path = Path(path)
    report = LoadReport(path=str(path), format="big-bench-mistake")
    traces = []
    for line, raw in read_lines(path):
        if not raw.strip():
            continue
        report.rows += 1
        try:
            row = json.loads(raw)
            steps = row["steps"]
            mi = row["mistake_index"]
            t = Trace(str(row["input"]), [str(s) for s in steps], str(row["answer"]), str(row["target"]),
                      None if mi is None else int(mi))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
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
    report.pairs = len(traces)
    if not traces:
        raise DataError(f"data: {path} holds no usable traces ({report.summary()})")
    return traces, report


def states(t: Trace) -> list[str]:
    """``s_0 .. s_{K−1}``: the question, then the question and the first k steps."""
    head = f"Q: {t.question}\nA: Let's think step by step.\n"
    return [head + "".join(s + "\n" for s in t.steps[:k]) for k in range(len(t.steps))]


def completion(t: Trace) -> str:
    return f"So the answer is {t.target}."


def localise(lm, traces: Sequence[Trace], progress: bool = False) -> dict:
    """Log-values, segment credit and the localisation table (see module doc)."""
    from rewardlab.prefix_values import completion_logprobs
    from rewardlab.redistribution import redistribute

    log_v, offsets = [], [0]
    it = traces
    if progress:
        from tqdm import tqdm

        it = tqdm(traces, desc="prefix values", unit="trace")
    for t in it:
        log_v.append(completion_logprobs(lm, states(t), [completion(t)])[:, 0])
        offsets.append(offsets[-1] + len(t.steps))
    values = np.exp(np.concatenate(log_v))
    outcome = np.array([float(t.answer.strip() == t.target.strip()) for t in traces])
    credit = redistribute(values, np.asarray(offsets, dtype=np.int64), outcome)
    k = np.diff(offsets)
    truth = np.array([t.mistake_index for t in traces])
    pred = np.array([int(np.argmin(credit[a:b])) for a, b in zip(offsets[:-1], offsets[1:])])
    n = len(traces)

    def row(name, hits):
        hits = float(np.sum(hits))
        return {"method": name, "accuracy": hits / n, "ci95": list(wilson_interval(hits, n))}

    table = [
        row("RREDCoT (most negative segment credit)", pred == truth),
        row("uniform credit (GRPO) = random step", 1.0 / k),
        row("first step", truth == 0),
        row("last step", truth == k - 1),
    ]
    return {
        "traces": n,
        "mean_steps": float(k.mean()),
        "correct_answers": int(outcome.sum()),
        "table": table,
        "credit": credit.tolist(),
        "offsets": offsets,
        "predicted": pred.tolist(),
        "mistake_index": truth.tolist(),
    }
