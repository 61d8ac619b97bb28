"""Cross-fitting by prompt: every pair scored by an ensemble that never saw its prompt."""

import numpy as np
import pytest

import rewardlab.models.pipeline as pipeline
from rewardlab.data import load_pairs
from rewardlab.models import TrainConfig
from rewardlab.models.crossfit import cross_fit, fold_of

FAST = TrainConfig(epochs=3)


def test_a_prompt_is_never_scored_by_an_ensemble_that_trained_on_it(hh_file, monkeypatch):
    pairs, _ = load_pairs(hh_file)
    trained, scored = [], []
    real_train, real_score = pipeline.train_model, pipeline.score_pairs

    def train(split, *a, **k):  # the real function, watched
        model = real_train(split, *a, **k)
        trained.append((id(model), {p.group for p in split.train + split.dev}))
        return model

    def score(model, held, *a, **k):
        scored.append((id(model), {p.group for p in held}, len(held)))
        return real_score(model, held, *a, **k)

    monkeypatch.setattr(pipeline, "train_model", train)
    monkeypatch.setattr(pipeline, "score_pairs", score)
    result = cross_fit(pairs, ["hash"], FAST, members=2, folds=4, cache_dir=False)
    assert len(trained) == len(scored) == 4
    seen = dict(trained)
    for model, groups, n in scored:
        assert not groups & seen[model]  # held out
    assert sum(n for _, _, n in scored) == len(pairs)  # every pair scored once
    assert set().union(*(g for _, g, _ in scored)) == {p.group for p in pairs}
    for k in range(4):  # a pair's fold is its prompt's
        assert {fold_of(p.group, 4) for p, f in zip(pairs, result.fold) if f == k} == {k}
    assert set(np.unique(result.outcomes)) <= {0.0, 0.5, 1.0}


def test_the_summary_is_the_outcomes_against_the_length_rules_in_plain_numpy(hh_file):
    pairs, _ = load_pairs(hh_file)
    result = cross_fit(pairs, ["hash"], FAST, members=2, folds=3, cache_dir=False)
    s = result.summary()
    o = result.outcomes
    assert s["accuracy"] == pytest.approx(o.mean()) and s["pairs"] == len(pairs) == len(o)
    c = np.array([len(p.chosen.split()) for p in pairs])
    r = np.array([len(p.rejected.split()) for p in pairs])
    shorter = np.where(c < r, 1.0, np.where(c == r, 0.5, 0.0))
    assert s["length_baselines"]["shorter"]["accuracy"] == pytest.approx(shorter.mean())
    assert s["length_baselines"]["shorter"]["model_minus_baseline"] == pytest.approx((o - shorter).mean())
    # HH rows here have one pair per prompt, so the clustered interval is the plain one
    assert len({p.group for p in pairs}) == len(pairs)
    d = o - shorter
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    np.testing.assert_allclose(s["length_baselines"]["shorter"]["difference_ci95"], [d.mean() - half, d.mean() + half], rtol=1e-9)
    for k, f in enumerate(s["per_fold"]):
        sel = result.fold == k
        assert f["pairs"] == sel.sum() and f["accuracy"] == pytest.approx(o[sel].mean())
        assert f["minus_shorter"] == pytest.approx(d[sel].mean())


def test_bad_fold_counts_are_refused_naming_the_argument(hh_file):
    pairs, _ = load_pairs(hh_file)
    for folds in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="folds: must be an integer of at least 2"):
            cross_fit(pairs, ["hash"], FAST, members=1, folds=folds)
    with pytest.raises(ValueError, match="folds: 50 folds of 3 prompts leave fold"):
        cross_fit(pairs[:3], ["hash"], FAST, members=1, folds=50)


def test_train_cross_fit_reports_every_pair_once_beside_the_saved_model(hh_file, tmp_path, capsys):
    import json

    from rewardlab.cli import main

    argv = ["train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embedder", "hash", "--members", "2",
            "--epochs", "3", "--no-cache"]
    assert main([*argv, "--cross-fit", "3", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    c = out["cross_fit"]
    assert c["folds"] == 3 and c["pairs"] == len(load_pairs(hh_file)[0]) and sum(f["pairs"] for f in c["per_fold"]) == c["pairs"]
    assert (tmp_path / "m" / "rewardlab_model.json").exists()  # the model itself is trained as without the flag
    assert main([*argv[:4], str(tmp_path / "n"), *argv[5:], "--cross-fit", "3"]) == 0
    text = "".join(capsys.readouterr())
    assert "cross-fitted over 3 folds by prompt" in text and "shorter response wins" in text, text
    with pytest.raises(SystemExit) as e:  # refused while parsing, before any data is read
        main([*argv[:4], str(tmp_path / "o"), *argv[5:], "--cross-fit", "1"])
    assert e.value.code == 2
    assert "--cross-fit" in capsys.readouterr().err and not (tmp_path / "o").exists()
