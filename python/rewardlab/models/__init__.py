"""Reward heads on frozen embeddings: losses, training, K-member ensembles, safetensors persistence."""

from rewardlab.models.heads import HeadConfig, Member, MLPHead
from rewardlab.models.losses import LOSSES, preference_loss
from rewardlab.models.reward_model import ModelFormatError, RewardModel
from rewardlab.models.training import PairFeatures, TrainConfig, train_ensemble, train_member

__all__ = [
    "HeadConfig",
    "LOSSES",
    "MLPHead",
    "Member",
    "ModelFormatError",
    "PairFeatures",
    "RewardModel",
    "TrainConfig",
    "preference_loss",
    "train_ensemble",
    "train_member",
]
