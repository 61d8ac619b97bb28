"""The ensemble study (``rewardlab study ensembles``) where the answer is known: synthetic
embeddings whose golden reward is a linear function of them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rewardlab.cli import main
from rewardlab.data.response_sets import ResponseSet, load_arrays
from rewardlab.errors import InvalidInputError
from rewardlab.studies.ensembles import proxies, score_members, train_members


def linear_gold(tmp_path, prompts=240, responses=12, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((prompts, responses, dim)).astype(np.float32)
    gold = emb.astype(np.float64) @ rng.standard_normal(dim)
    np.save(tmp_path / "emb.npy", emb)
    np.save(tmp_path / "gold.npy", gold)
    return emb, gold


def run_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_perfect_labels_on_a_linear_gold_reach_the_oracle_and_noise_is_as_simulated(tmp_path, capsys):
    _, gold = linear_gold(tmp_path)
    out = run_json(capsys, "study", "ensembles", "--arrays", str(tmp_path / "emb.npy"), str(tmp_path / "gold.npy"),
                   "--quality", "inf,0.5", "--members", "3", "--pairs-per-prompt", "6", "--json", "--quiet",
                   "--out", str(tmp_path / "report"))
    assert out["ns"] == [1, 2, 5, 10, 12]
    perfect, noisy = out["qualities"]
    assert perfect["quality"] == "inf" and perfect["label_noise"] == 0.0
    # the test prompts' own best-of-N bounds, computed here from the gold alone
    assert out["oracle"][0] == pytest.approx(out["random"])
    for name, entry in perfect["rules"].items():
        assert entry["spearman"] > 0.95, name  # a linear gold is learnt almost exactly
        gap = out["oracle"][-1] - out["random"]
        assert entry["bon"][-1] > out["random"] + 0.9 * gap, name
        assert entry["bon"][0] == pytest.approx(out["random"])  # N = 1 is a random pick whatever the proxy
    # 120 training prompts x 6 pairs: the wrong share is binomial around what the annotator model predicts
    n, p = noisy["pairs"], noisy["expected_label_noise"]
    assert n == 720 and 0.2 < p < 0.45
    assert abs(noisy["label_noise"] - p) < 5 * math.sqrt(p * (1 - p) / n)
    # label noise costs golden reward: the single member is worse than with perfect labels
    assert noisy["rules"]["single"]["bon"][-1] < perfect["rules"]["single"]["bon"][-1]
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Gain of each rule over a single member" in page and "data:image/png;base64," in page


def test_the_rules_combine_every_member(tmp_path):
    # the published evaluation loop loaded only the last member: here each rule must equal
    # numpy's combination of all members' scores
    emb, gold = linear_gold(tmp_path, prompts=60, responses=5, dim=8)
    data = ResponseSet.of(emb, gold)
    train, test = data.split(0.5)
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, 5, (200, 2))
    winner = np.stack([rng.integers(0, train.prompts, 200), pairs[:, 0]], 1)
    loser = np.stack([winner[:, 0], pairs[:, 1]], 1)
    from rewardlab.studies.ensembles import STUDY_CONFIG
    from dataclasses import replace

    heads = train_members(train, winner, loser, 4, replace(STUDY_CONFIG, epochs=3), seed=0)
    s = score_members(heads, test)
    assert s.shape == (4, test.prompts, 5)
    assert not np.allclose(s[0], s[-1])  # members differ
    got = proxies(s)
    np.testing.assert_allclose(got["mean"], s.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["min"], s.min(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["median"], np.median(s, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["uwo"], s.mean(0) - s.std(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["uwo_var"], s.mean(0) - s.var(0), rtol=1e-9, atol=1e-12)


def test_arrays_are_memory_mapped_and_read_in_blocks(tmp_path):
    emb, gold = linear_gold(tmp_path, prompts=50, responses=4, dim=8)
    data = load_arrays(tmp_path / "emb.npy", tmp_path / "gold.npy")
    assert isinstance(data.embeddings, np.memmap)
    train, test = data.split(0.4, seed=3)
    assert sorted(np.concatenate([train.rows, test.rows]).tolist()) == list(range(50))
    blocks = list(test.blocks(max_bytes=4 * 8 * 4 * 3))  # three prompts a block
    assert len(blocks) == math.ceil(test.prompts / 3)
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), emb[test.rows])
    at = np.array([[3, 1], [0, 2], [3, 0]])
    np.testing.assert_array_equal(test.vectors(at), emb[test.rows[at[:, 0]], at[:, 1]])


@pytest.mark.parametrize("emb_shape,gold_shape,arg", [
    ((4, 3), (4, 3), "embeddings"),
    ((4, 3, 2), (4, 2), "gold"),
])
def test_bad_arrays_name_the_argument(emb_shape, gold_shape, arg):
    with pytest.raises(InvalidInputError, match=f"^{arg}:"):
        ResponseSet.of(np.zeros(emb_shape, np.float32), np.zeros(gold_shape))


def test_bad_files_and_arguments_exit_2_with_a_message(tmp_path, capsys):
    linear_gold(tmp_path, prompts=10, responses=3, dim=4)
    np.save(tmp_path / "nan.npy", np.full((10, 3), np.nan))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    bad = np.load(tmp_path / "emb.npy")
    bad[7, 2, 1] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    emb, gold = str(tmp_path / "emb.npy"), str(tmp_path / "gold.npy")
    cases = [
        (["--arrays", emb, str(tmp_path / "nan.npy")], "gold: golden rewards must be finite"),
        (["--arrays", emb, str(tmp_path / "obj.npy")], "gold: "),
        (["--arrays", emb, str(tmp_path / "missing.npy")], "gold: no such file"),
        (["--arrays", emb, gold, "--n", "4"], "n: each N must be an integer in [1, 3]"),
        ([], "data: give either --data FILE or --arrays"),
        (["--arrays", str(tmp_path / "inf.npy"), gold], "response 2 is not finite"),
    ]
    for extra, message in cases:
        assert main(["study", "ensembles", "--quality", "1", "--members", "1", "--quiet", *extra]) == 2
        assert message in capsys.readouterr().err, extra


def test_best_of_n_files_embed_once_and_study_from_the_file(tmp_path, capsys):
    import gzip

    from rewardlab import datasets

    with gzip.open(datasets.path(datasets.BON), "rt", encoding="utf-8") as fh:
        rows = [next(fh) for _ in range(40)]
    data = tmp_path / "bon.jsonl"
    data.write_text("".join(rows), encoding="utf-8")
    vectors = tmp_path / "bon.safetensors"
    assert main(["embed", "--data", str(data), "--embedder", "hash", "--context", "ends", "--out", str(vectors), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["texts"] == 40 * 11  # every labelled candidate, once
    study = ["study", "ensembles", "--data", str(data), "--embedder", "hash", "--context", "ends", "--quality", "inf,1",
             "--members", "2", "--pairing", "same", "--json", "--quiet"]
    live = run_json(capsys, *study)
    from_file = run_json(capsys, *study, "--embeddings", str(vectors))
    assert from_file["qualities"] == live["qualities"]
    # vectors of another context are other texts: refused, not silently mixed
    assert main([*study[:-2], "--context", "last_turn", "--quiet", "--embeddings", str(vectors)]) == 2
    assert "texts are not in" in capsys.readouterr().err
