"""Reward heads, losses, ensembles and their safetensors persistence."""

import json
import math

import numpy as np
import pytest
import torch

from rewardlab.models.evaluate import pairwise_accuracy, wilson_interval
from rewardlab.models import (
    ModelFormatError,
    PairFeatures,
    RewardModel,
    TrainConfig,
    preference_loss,
    train_ensemble,
    train_member,
)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_losses_match_their_formulas():
    rng = np.random.default_rng(0)
    c, r = rng.normal(size=50), rng.normal(size=50)
    tc, tr = torch.tensor(c), torch.tensor(r)
    np.testing.assert_allclose(float(preference_loss("bt", tc, tr)), np.mean(-np.log(sigmoid(c - r))), rtol=1e-10)
    np.testing.assert_allclose(float(preference_loss("margin", tc, tr, 0.7)), np.mean(np.maximum(0, 0.7 - (c - r))), rtol=1e-10)
    bce = -(np.log(sigmoid(c)).mean() + np.log(1 - sigmoid(r)).mean()) / 2
    np.testing.assert_allclose(float(preference_loss("cls", tc, tr)), bce, rtol=1e-10)
    with pytest.raises(ValueError, match="loss"):
        preference_loss("hinge2", tc, tr)


def synthetic_pairs(n, dim=16, seed=0, noise=0.0):
    """Pairs labelled by a hidden linear reward: the learnable ground truth."""
    rng = np.random.default_rng(seed)
    w = np.random.default_rng(123).normal(size=dim)
    a, b = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    ra, rb = a @ w + noise * rng.normal(size=n), b @ w + noise * rng.normal(size=n)
    chosen = np.where((ra >= rb)[:, None], a, b).astype(np.float32)
    rejected = np.where((ra >= rb)[:, None], b, a).astype(np.float32)
    return PairFeatures(chosen, rejected)


@pytest.mark.parametrize("loss", ["bt", "margin", "cls"])
def test_a_learnable_preference_is_learned(loss):
    train, dev, test = synthetic_pairs(1500, seed=1), synthetic_pairs(200, seed=2), synthetic_pairs(500, seed=3)
    member = train_member(train, dev, TrainConfig(loss=loss, epochs=40), seed=0, embedder="synthetic")
    score = lambda x: member.score(torch.from_numpy(x)).numpy()
    acc = pairwise_accuracy(score(test.chosen), score(test.rejected))
    # cls only sees each response alone; on this task absolute reward still separates well.
    assert acc.accuracy > (0.8 if loss == "cls" else 0.9)


def test_member_scores_are_standardised_on_training_responses():
    train = synthetic_pairs(400, seed=4)
    m = train_member(train, None, TrainConfig(epochs=5), seed=0, embedder="synthetic")
    s = m.score(torch.from_numpy(np.concatenate([train.chosen, train.rejected]))).numpy()
    # Bootstrap resample changes which responses set the scale, so only approximately 0 / 1.
    assert abs(s.mean()) < 0.2 and abs(s.std() - 1) < 0.2


def test_same_seed_same_model_different_seed_different_model():
    train, dev = synthetic_pairs(300, seed=5), synthetic_pairs(50, seed=6)
    cfg = TrainConfig(epochs=5)
    x = torch.from_numpy(dev.chosen)
    a, b, c = (train_member(train, dev, cfg, s, "e").score(x).numpy() for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_ensemble_members_alternate_embedders_and_seeds():
    feats = {"e1": synthetic_pairs(200, seed=1), "e2": synthetic_pairs(200, dim=8, seed=2)}
    members = train_ensemble(feats, None, TrainConfig(epochs=2, seed=10), members=3, embedders=["e1", "e2"])
    assert [m.embedder for m in members] == ["e1", "e2", "e1"]
    assert [m.info["seed"] for m in members] == [10, 11, 12]
    with pytest.raises(ValueError, match="members"):
        train_ensemble(feats, None, TrainConfig(), members=0)
    with pytest.raises(ValueError, match="embedders"):
        train_ensemble(feats, None, TrainConfig(), members=1, embedders=["e3"])


def test_save_load_roundtrip_gives_identical_scores(tmp_path):
    feats = {"e1": synthetic_pairs(200, seed=1), "e2": synthetic_pairs(200, dim=8, seed=2)}
    model = RewardModel(train_ensemble(feats, None, TrainConfig(epochs=3, hidden=(32, 16)), members=3, embedders=["e1", "e2"]), meta={"note": "x"})
    model.save(tmp_path / "m")
    loaded = RewardModel.load(tmp_path / "m")
    x = {"e1": feats["e1"].chosen, "e2": feats["e2"].chosen}
    np.testing.assert_array_equal(model.score_features(x), loaded.score_features(x))
    assert loaded.meta == {"note": "x"} and loaded.embedders == ["e1", "e2"]
    assert not list((tmp_path / "m").glob("*.tmp"))
    assert not list((tmp_path / "m").glob("*.pkl")) and not list((tmp_path / "m").glob("*.pt"))
    with pytest.raises(ValueError, match="member 1 expects"):
        loaded.score_features({"e1": feats["e1"].chosen, "e2": feats["e1"].chosen})


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFormatError, match="not a directory"):
        RewardModel.load(tmp_path / "missing")
    with pytest.raises(ModelFormatError, match="no rewardlab_model.json"):
        RewardModel.load(tmp_path)
    (tmp_path / "rewardlab_model.json").write_text("{oops")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        RewardModel.load(tmp_path)
    (tmp_path / "rewardlab_model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFormatError, match="not a rewardlab reward-model config"):
        RewardModel.load(tmp_path)
    model = RewardModel(train_ensemble({"e": synthetic_pairs(50)}, None, TrainConfig(epochs=1), members=1))
    model.save(tmp_path / "ok")
    next((tmp_path / "ok").glob("weights-*.safetensors")).write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFormatError, match="does not match the SHA-256"):
        RewardModel.load(tmp_path / "ok")


@pytest.mark.parametrize("field,value", [("loss", "nope"), ("epochs", 0), ("lr", 0.0), ("dropout", 1.0), ("weight_decay", -1.0)])
def test_train_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_pair_features_shape_errors():
    with pytest.raises(ValueError, match="features"):
        PairFeatures(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="no pairs"):
        PairFeatures(np.zeros((0, 4)), np.zeros((0, 4)))


def test_wilson_interval_against_the_closed_form():
    # Independent check: Wilson (1927) for 50/100 at z = 1.96 is 0.5 +- 0.0962 (to 4 d.p.).
    lo, hi = wilson_interval(50, 100)
    assert math.isclose(lo, 0.4038, abs_tol=1e-4) and math.isclose(hi, 0.5962, abs_tol=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and math.isclose(hi, 0.2775, abs_tol=1e-4)


def test_pairwise_accuracy_counts_ties_as_half():
    a = pairwise_accuracy(np.array([1.0, 2.0, 3.0, 0.0]), np.array([0.0, 2.0, 4.0, -1.0]))
    assert (a.correct, a.ties, a.n_pairs) == (2, 1, 4) and a.accuracy == 2.5 / 4
    with pytest.raises(ValueError, match="finite"):
        pairwise_accuracy(np.array([np.nan]), np.array([0.0]))
    with pytest.raises(ValueError, match="rejected"):
        pairwise_accuracy(np.zeros(3), np.zeros(2))
