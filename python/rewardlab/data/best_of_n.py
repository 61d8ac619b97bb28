"""Best-of-N candidate sets: prompts, every policy sample, and the gold-labelled candidates.

The format is RewardBench's best-of-N set (``reward-bench-bon``): AlpacaEval prompts x 16 samples
of one policy, with a gold judge preference ``gold_preference_vs_reference[i]`` (1..2, higher =
sample i beats the reference answer) for samples 0-10. The samples are draws of the policy, so the
base weights of the candidates are uniform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rewardlab.data.rows import LoadReport, check_limit, finish_report, json_rows
from rewardlab.errors import invalid

__all__ = ["BonSet", "load_bon"]


@dataclass
class BonSet:
    prompts: list[str]
    candidates: list[list[str]]  # [P][N] with N = the labelled candidates
    gold: np.ndarray  # [P, N]
    report: LoadReport
    samples: list[list[str]] = field(default_factory=list)  # [P][*]: every sample, labelled or not
    labelled_at: list[list[int]] = field(default_factory=list)  # [P][N]: where each candidate is in samples

    def sample_offsets(self) -> np.ndarray:
        """``[P + 1]`` offsets of each prompt's samples in the flat list of all samples."""
        return np.concatenate([[0], np.cumsum([len(s) for s in self.samples])]).astype(np.int64)

    def candidate_columns(self) -> np.ndarray:
        """Flat positions ``[P, N]`` of the labelled candidates among all samples."""
        return self.sample_offsets()[:-1, None] + np.asarray(self.labelled_at, dtype=np.int64)


def load_bon(path: str | Path, limit: int | None = None, candidates: int | None = None) -> BonSet:
    """Prompts, their gold-labelled candidates and gold preferences; malformed rows are reported.

    Every prompt keeps the same number N of labelled candidates (its first N): ``candidates`` if
    given (prompts with fewer are skipped and counted), else the fewest any usable prompt has
    (11 in reward-bench-bon). At least 2, so that there is something to choose between."""
    check_limit(limit)
    if candidates is not None and (isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2):
        raise invalid("candidates", f"must be an integer >= 2, got {candidates!r}")
    path = Path(path)
    report = LoadReport(path=str(path), format="reward-bench-bon", unit="prompts")
    rows: list[tuple[int, str, list[str], list[tuple[int, str, float]], dict[int, int]]] = []
    need = candidates or 2
    for line, row in json_rows(path, report, "malformed best-of-N row"):
        try:
            instruction, outputs, gold = row["instruction"], row["outputs"], row["gold_preference_vs_reference"]
            labelled = [(i, o, float(g)) for i, (o, g) in enumerate(zip(outputs, gold)) if g is not None]
            if not isinstance(instruction, str):
                raise TypeError("instruction")
        except (KeyError, TypeError, ValueError, OverflowError):
            report.skip(line, "malformed best-of-N row")
            continue
        usable = [i for i, o in enumerate(outputs) if isinstance(o, str) and o.strip()]
        position = {i: k for k, i in enumerate(usable)}  # output index -> index among the samples
        labelled = [(i, o, g) for i, o, g in labelled if i in position and np.isfinite(g)]
        if len(labelled) < need:
            report.skip(line, f"fewer than {need} labelled candidates")
            continue
        rows.append((line, instruction, [outputs[i] for i in usable], labelled, position))
        if limit is not None and len(rows) >= limit:
            break
    finish_report(path, report, len(rows), "best-of-N prompts")
    n = candidates or min(len(labelled) for _, _, _, labelled, _ in rows)
    prompts, cands, golds, samples, labelled_at = [], [], [], [], []
    for _, instruction, usable_outputs, labelled, position in rows:
        labelled = labelled[:n]
        prompts.append(instruction)
        cands.append([o for _, o, _ in labelled])
        samples.append(usable_outputs)
        golds.append([g for _, _, g in labelled])
        labelled_at.append([position[i] for i, _, _ in labelled])
    return BonSet(prompts, cands, np.asarray(golds, dtype=np.float64), report, samples, labelled_at)
