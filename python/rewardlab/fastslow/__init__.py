"""Fast-slow reward scoring: a cheap fast verdict for every item, a chain-of-thought judgement only
where the dual-confidence gate says the fast one cannot be trusted.

- :mod:`~rewardlab.fastslow.judge`: the LM judge (first-token fast verdicts, chain-of-thought slow
  verdicts), with its prompts and verdict parser.
- :mod:`~rewardlab.fastslow.gate`: the two confidences and the gate (kernel:
  ``rust/core/src/gate.rs``), calibrated to a slow rate or a token budget.
- :mod:`~rewardlab.fastslow.fast_slow`: fast scores from the LM or an embedding ensemble, and
  :class:`FastSlowJudge`, which routes between them.

The fast/slow/gated experiment is :mod:`rewardlab.studies.fastslow`.
"""

from rewardlab.fastslow.fast_slow import (
    FastScores,
    FastSlowJudge,
    GatedVerdicts,
    correctness,
    ensemble_fast_scores,
    lm_fast_scores,
    pairs_to_items,
)
from rewardlab.fastslow.gate import SHAPES, Gate, Sweep, agreement, intuition, quantile_grid, shape_confidence, sweep
from rewardlab.fastslow.judge import MODES, FastVerdicts, JudgeConfig, JudgeItem, LMJudge, SlowVerdicts, parse_verdict

__all__ = [
    "MODES",
    "SHAPES",
    "FastScores",
    "FastSlowJudge",
    "FastVerdicts",
    "Gate",
    "GatedVerdicts",
    "JudgeConfig",
    "JudgeItem",
    "LMJudge",
    "SlowVerdicts",
    "Sweep",
    "agreement",
    "correctness",
    "ensemble_fast_scores",
    "intuition",
    "lm_fast_scores",
    "pairs_to_items",
    "parse_verdict",
    "quantile_grid",
    "shape_confidence",
    "sweep",
]
