"""Embed once, train anywhere: `rewardlab embed` writes a file of vectors keyed by text, and
train/eval/score read it with --embeddings instead of loading the embedder."""

import json
import shutil

import numpy as np
import pytest

from rewardlab.cli import main
from rewardlab.data import load_pairs
from rewardlab.embed import embed_texts, get_embedder
from rewardlab.embed.cache import text_key
from tiny_models import tiny_policy


def run_json(capsys, *argv):
    assert main([*argv, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def hash_file(hh_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "hash.safetensors"
    assert main(["embed", "--data", str(hh_file), "--embedder", "hash", "--out", str(out), "--no-cache", "--quiet"]) == 0
    return out


def test_the_file_is_plain_safetensors_holding_every_distinct_text_once(hash_file, hh_file):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    pairs, _ = load_pairs(hh_file)
    texts = list(dict.fromkeys(t for p in pairs for t in p.texts()))
    data = load_file(hash_file)  # safetensors' own reader
    assert data["keys"].shape == (len(texts), 16) and data["embeddings"].shape == (len(texts), 1024)
    assert [bytes(k) for k in data["keys"]] == [text_key(t) for t in texts]
    np.testing.assert_array_equal(data["embeddings"], embed_texts(get_embedder("hash"), texts, cache_dir=False))
    with safe_open(hash_file, "np") as f:
        assert f.metadata()["embedder"] == "hash" and f.metadata()["embedder_id"] == get_embedder("hash").id


def test_training_and_evaluating_from_the_file_equals_embedding_on_the_spot(hash_file, hh_file, tmp_path, capsys):
    common = ["--data", str(hh_file), "--members", "2", "--epochs", "3"]
    run_json(capsys, "train", *common, "--out", str(tmp_path / "a"), "--embedder", "hash", "--no-cache")
    run_json(capsys, "train", *common, "--out", str(tmp_path / "b"), "--embeddings", str(hash_file))  # spec from the file
    a = run_json(capsys, "eval", "--model", str(tmp_path / "a"), "--data", str(hh_file), "--split", "all", "--no-cache")
    b = run_json(capsys, "eval", "--model", str(tmp_path / "b"), "--data", str(hh_file), "--split", "all",
                 "--embeddings", str(hash_file))
    assert a == b


def test_a_large_models_embeddings_train_where_the_model_is_not(hh_file, tmp_path, capsys):
    # the seed paper's workflow: embed once where the model is, then research on a laptop
    lm = tiny_policy(tmp_path / "gpu-box" / "lm")
    emb = tmp_path / "lm.safetensors"
    run_json(capsys, "embed", "--data", str(hh_file), "--embedder", f"lm:{lm}", "--out", str(emb), "--no-cache")
    shutil.rmtree(tmp_path / "gpu-box")  # the model is gone
    run_json(capsys, "train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embeddings", str(emb),
             "--members", "2", "--epochs", "2")
    out = run_json(capsys, "eval", "--model", str(tmp_path / "m"), "--data", str(hh_file), "--embeddings", str(emb))
    assert out["n_pairs"] > 0 and 0 <= out["accuracy"] <= 1


def test_texts_missing_from_the_file_are_an_error_that_says_what_to_do(hash_file, tmp_path, capsys):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"chosen": "\n\nHuman: new?\n\nAssistant: yes", "rejected": "\n\nHuman: new?\n\nAssistant: no"}) + "\n")
    model = tmp_path / "m"
    assert main(["train", "--data", str(other), "--out", str(model), "--embeddings", str(hash_file), "--quiet",
                 "--dev", "0", "--test", "0"]) == 2
    err = capsys.readouterr().err
    assert "embeddings: 2 of 2 texts are not in" in err and "rewardlab embed --embedder hash" in err


def test_files_that_are_not_ours_or_are_truncated_are_refused(hash_file, tmp_path, capsys):
    from safetensors.numpy import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, foreign)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(hash_file.read_bytes()[:-4])
    for path, why in ((foreign, "is not a rewardlab embeddings file"), (cut, "truncated or written by something else"),
                      (tmp_path / "none.safetensors", "no such file")):
        assert main(["eval", "--model", "m", "--data", "d", "--embeddings", str(path)]) == 2
        assert f"error: embeddings: " in (err := capsys.readouterr().err) and why in err, err
