"""Length baselines and paired, cluster-robust differences: checked against plain numpy and the
properties a clustered interval must have, and in what `rewardlab eval` reports."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardlab.cli import main
from rewardlab.data import load_pairs
from rewardlab.models.baselines import clustered_mean_interval, length_baselines, outcomes


def test_with_one_pair_per_prompt_the_interval_is_the_usual_one():
    x = np.random.default_rng(0).choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=301)
    mean, lo, hi = clustered_mean_interval(x, [f"p{i}" for i in range(len(x))])
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # plain numpy
    assert mean == pytest.approx(x.mean()) and lo == pytest.approx(x.mean() - half) and hi == pytest.approx(x.mean() + half)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=3, max_size=60), st.integers(2, 9))
def test_copies_within_a_prompt_add_no_information(values, copies):
    # each prompt's pair repeated k times in its own cluster: the clustered interval must not
    # shrink (an unclustered one would, by sqrt(k)); this is RM-Bench's 3 x 3 grid per prompt
    x = np.asarray(values)
    once = clustered_mean_interval(x, list(range(len(x))))
    many = clustered_mean_interval(np.repeat(x, copies), list(np.repeat(np.arange(len(x)), copies)))
    np.testing.assert_allclose(many, once, rtol=1e-9, atol=1e-12)


def test_outcomes_count_a_tie_as_half():
    np.testing.assert_array_equal(outcomes([2, 1, 1], [1, 1, 2]), [1.0, 0.5, 0.0])


def test_the_baselines_are_each_others_mirror_and_the_differences_paired():
    chosen_words, rejected_words = [5, 3, 3, 9, 1], [4, 3, 8, 2, 1]
    model = np.array([1.0, 1.0, 0.0, 1.0, 0.5])
    out = length_baselines(model, chosen_words, rejected_words, ["a", "a", "b", "c", "d"])
    longer = np.array([1, 0.5, 0, 1, 0.5])  # chosen longer -> right; equal -> a tie
    assert out["longer"]["accuracy"] == pytest.approx(longer.mean())
    assert out["shorter"]["accuracy"] == pytest.approx((1 - longer).mean())
    assert out["longer"]["model_minus_baseline"] == pytest.approx((model - longer).mean())
    assert out["clusters"] == 4


def test_eval_prints_both_baselines_beside_the_model(hh_file, tmp_path, capsys):
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embedder", "hash", "--members", "2",
                 "--epochs", "3", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(hh_file), "--split", "all", "--json",
                 "--quiet", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out)
    pairs, _ = load_pairs(hh_file)
    c = np.array([len(p.chosen.split()) for p in pairs])
    r = np.array([len(p.rejected.split()) for p in pairs])
    base = out["length_baselines"]
    assert base["longer"]["accuracy"] == pytest.approx(((c > r) + 0.5 * (c == r)).mean())  # recounted here
    assert base["shorter"]["accuracy"] == pytest.approx(((c < r) + 0.5 * (c == r)).mean())
    assert base["longer"]["model_minus_baseline"] == pytest.approx(out["accuracy"] - base["longer"]["accuracy"])
    lo, hi = base["shorter"]["difference_ci95"]
    assert lo < base["shorter"]["model_minus_baseline"] < hi
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(hh_file), "--split", "all", "--no-cache"]) == 0
    text = capsys.readouterr().err
    assert "longer response wins" in text and "shorter response wins" in text and "model minus it" in text


def test_the_difference_interval_stays_within_minus_one_and_one():
    # 4 prompts: the model right on all, "longer wins" right on one; the normal interval of the
    # mean difference 0.75 (se 0.25) would reach 1.24
    out = length_baselines(np.ones(4), [1, 1, 1, 2], [2, 2, 2, 1], ["a", "b", "c", "d"])
    lo, hi = out["longer"]["difference_ci95"]
    assert out["longer"]["model_minus_baseline"] == 0.75
    assert hi == 1.0 and lo == pytest.approx(0.75 - 1.96 * 0.25)
