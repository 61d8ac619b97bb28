"""Reward shaping under KL regularisation and the best-of-N selections it serves.

Stackelberg threshold shaping (:func:`shape_rewards`, :func:`stackelberg_thresholds`) and the
normalisations it is compared with, per prompt group; hard, soft and tilted best-of-N over the
same groups (:func:`best_of_n`, :func:`soft_best_of_n`, :func:`tilted_expectation`). The kernels are
in ``rust/core/src/shaping.rs``; the best-of-N study on real candidates is
:mod:`rewardlab.studies.best_of_n`.
"""

from rewardlab.shaping.selection import best_of_n, soft_best_of_n, tilted_expectation
from rewardlab.shaping.stackelberg import SHAPINGS, Thresholds, shape_rewards, stackelberg_thresholds

__all__ = [
    "SHAPINGS",
    "Thresholds",
    "best_of_n",
    "shape_rewards",
    "soft_best_of_n",
    "stackelberg_thresholds",
    "tilted_expectation",
]
