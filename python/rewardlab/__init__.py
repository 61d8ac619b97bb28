"""rewardlab: reward models without a GPU farm.

The capabilities, one subpackage each (the hot paths in a Rust core, ``rewardlab._core``):

- :mod:`rewardlab.models` (with :mod:`rewardlab.data` and :mod:`rewardlab.embed`): embedding
  reward models, ensembles and their aggregation rules, evaluation;
- :mod:`rewardlab.credit`: advantage estimators and the verl / OpenRLHF / TRL drop-ins;
- :mod:`rewardlab.redistribution`: RREDCoT segment-level reward redistribution;
- :mod:`rewardlab.shaping`: Stackelberg reward shaping and best-of-N;
- :mod:`rewardlab.fastslow`: the LM judge, the dual-confidence gate, the fast-slow judge;
- :mod:`rewardlab.diagnostics`: reward variance and on-policy accuracy (teacher report).

The names most users need are re-exported here; they load on first use, so ``import rewardlab``
does not import torch.
"""

from typing import TYPE_CHECKING

from rewardlab._core import __version__
from rewardlab._utils.lazy import lazy_exports
from rewardlab.errors import InvalidInputError

if TYPE_CHECKING:  # what type checkers see; at run time the names load on first use
    from rewardlab.credit import gae as gae, grpo as grpo, rloo as rloo, rredcot as rredcot
    from rewardlab.data import PreferencePair as PreferencePair, load_pairs as load_pairs
    from rewardlab.diagnostics import reward_variance as reward_variance, teacher_report as teacher_report
    from rewardlab.embed import get_embedder as get_embedder
    from rewardlab.fastslow import FastSlowJudge as FastSlowJudge, LMJudge as LMJudge
    from rewardlab.models import RewardModel as RewardModel, TrainConfig as TrainConfig, aggregate as aggregate, train_ensemble as train_ensemble
    from rewardlab.redistribution import rredcot_token_rewards as rredcot_token_rewards
    from rewardlab.shaping import best_of_n as best_of_n, shape_rewards as shape_rewards, soft_best_of_n as soft_best_of_n

_WHERE = {
    **dict.fromkeys(["gae", "grpo", "rloo", "rredcot"], "rewardlab.credit"),
    **dict.fromkeys(["PreferencePair", "load_pairs"], "rewardlab.data"),
    **dict.fromkeys(["reward_variance", "teacher_report"], "rewardlab.diagnostics"),
    "get_embedder": "rewardlab.embed",
    **dict.fromkeys(["FastSlowJudge", "LMJudge"], "rewardlab.fastslow"),
    **dict.fromkeys(["RewardModel", "TrainConfig", "aggregate", "train_ensemble"], "rewardlab.models"),
    "rredcot_token_rewards": "rewardlab.redistribution",
    **dict.fromkeys(["best_of_n", "shape_rewards", "soft_best_of_n"], "rewardlab.shaping"),
}
__all__ = ["__version__", "InvalidInputError", *sorted(_WHERE)]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
