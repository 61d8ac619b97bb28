"""Teacher diagnostics: is a reward model a good teacher for the current policy?

Reward variance under the policy (what sets the speed of policy-gradient optimisation, Razin et
al. 2025) beside on-policy accuracy against a gold reward, per reward model and ensemble rule.
Kernels: ``rust/core/src/diagnostics.rs``. The teaching experiment behind the argument is
:mod:`rewardlab.studies.teaching`.
"""

from rewardlab.diagnostics.teacher import (
    TeacherRow,
    diagnose_bon,
    on_policy_accuracy,
    reward_variance,
    rule_rewards,
    standardise,
    teacher_report,
)

__all__ = [
    "TeacherRow",
    "diagnose_bon",
    "on_policy_accuracy",
    "reward_variance",
    "rule_rewards",
    "standardise",
    "teacher_report",
]
