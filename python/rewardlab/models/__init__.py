"""Embedding reward models: heads on frozen embeddings, their training, K-member ensembles, model
files, aggregation of the members' scores and pairwise evaluation.

- :mod:`~rewardlab.models.heads`, :mod:`~rewardlab.models.losses`,
  :mod:`~rewardlab.models.training`: torch heads (linear or MLP), Bradley-Terry / margin /
  classification losses, bootstrap ensembles with early stopping.
- :mod:`~rewardlab.models.reward_model`, :mod:`~rewardlab.models.model_file`: a trained ensemble
  and its folder on disk (safetensors, checked on load).
- :mod:`~rewardlab.models.ensemble`: mean, min, median, quantile and uncertainty-weighted rules
  over the members (kernel: ``rust/core/src/ensemble.rs``); no torch needed.
- :mod:`~rewardlab.models.evaluate`: pairwise accuracy with Wilson intervals.
- :mod:`~rewardlab.models.annotators`, :mod:`~rewardlab.models.golden`: simulated annotators
  labelling pairs from a golden reward, and evaluation by it (exact best-of-N curves, per-prompt
  Spearman, bootstrap over prompts).
- :mod:`~rewardlab.models.pipeline`: data -> embeddings -> model, streamed chunk by chunk.
- :mod:`~rewardlab.models.crossfit`: K-fold cross-fitting by prompt, so that a small preference
  set is test data once in full.

The torch-backed names load on first use, so the aggregation rules and ``rewardlab --help`` do not
import torch.
"""

from typing import TYPE_CHECKING

from rewardlab._utils.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time the names load on first use
    from rewardlab.models.crossfit import CrossFit as CrossFit, cross_fit as cross_fit
    from rewardlab.models.annotators import PAIRINGS as PAIRINGS, Annotations as Annotations, annotate as annotate
    from rewardlab.models.golden import bon_curve as bon_curve, bon_permutations as bon_permutations, prompt_bootstrap as prompt_bootstrap, spearman_per_prompt as spearman_per_prompt
    from rewardlab.models.ensemble import METHODS as METHODS, Aggregated as Aggregated, aggregate as aggregate
    from rewardlab.models.evaluate import Accuracy as Accuracy, ensemble_accuracy as ensemble_accuracy, mean_interval as mean_interval, pairwise_accuracy as pairwise_accuracy, wilson_interval as wilson_interval
    from rewardlab.models.heads import HeadConfig as HeadConfig, Member as Member, MLPHead as MLPHead
    from rewardlab.models.losses import LOSSES as LOSSES, preference_loss as preference_loss
    from rewardlab.models.reward_model import ModelFormatError as ModelFormatError, RewardModel as RewardModel
    from rewardlab.models.training import PairFeatures as PairFeatures, TrainConfig as TrainConfig, train_ensemble as train_ensemble, train_member as train_member

_WHERE = {
    **dict.fromkeys(["PAIRINGS", "Annotations", "annotate"], "rewardlab.models.annotators"),
    **dict.fromkeys(["CrossFit", "cross_fit"], "rewardlab.models.crossfit"),
    **dict.fromkeys(["bon_curve", "bon_permutations", "prompt_bootstrap", "spearman_per_prompt"], "rewardlab.models.golden"),
    **dict.fromkeys(["METHODS", "Aggregated", "aggregate"], "rewardlab.models.ensemble"),
    **dict.fromkeys(["Accuracy", "ensemble_accuracy", "mean_interval", "pairwise_accuracy", "wilson_interval"], "rewardlab.models.evaluate"),
    **dict.fromkeys(["HeadConfig", "Member", "MLPHead"], "rewardlab.models.heads"),
    **dict.fromkeys(["LOSSES", "preference_loss"], "rewardlab.models.losses"),
    **dict.fromkeys(["ModelFormatError", "RewardModel"], "rewardlab.models.reward_model"),
    **dict.fromkeys(["PairFeatures", "TrainConfig", "train_ensemble", "train_member"], "rewardlab.models.training"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
