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


def test_a_npy_array_with_its_sidecar_reads_as_the_safetensors_file(hash_file, hh_file, tmp_path, capsys):
    # what embed writes with a .npy name: the array and a sidecar of the rows' keys
    npy = tmp_path / "hash.npy"
    out = run_json(capsys, "embed", "--data", str(hh_file), "--embedder", "hash", "--out", str(npy), "--no-cache")
    arr = np.load(npy)
    side = json.loads(npy.with_suffix(".json").read_text())
    assert arr.shape == (out["texts"], 1024) and arr.dtype == np.float32 and len(side["keys"]) == out["texts"]
    texts = [t for p in load_pairs(hh_file)[0] for t in p.texts()]
    for i in (0, 7, len(side["keys"]) - 1):  # row i is the vector of the text whose key is keys[i]
        text = next(t for t in texts if text_key(t).hex() == side["keys"][i])
        np.testing.assert_array_equal(arr[i], get_embedder("hash").embed([text])[0])
    common = ["--data", str(hh_file), "--members", "2", "--epochs", "3"]
    run_json(capsys, "train", *common, "--out", str(tmp_path / "a"), "--embeddings", str(hash_file))
    run_json(capsys, "train", *common, "--out", str(tmp_path / "b"), "--embeddings", str(npy))
    evals = [run_json(capsys, "eval", "--model", str(tmp_path / m), "--data", str(hh_file), "--split", "all",
                      "--embeddings", str(f)) for m, f in (("a", hash_file), ("b", npy))]
    assert evals[0] == evals[1]


def test_a_user_written_npy_with_texts_in_its_sidecar_and_another_dtype(hh_file, tmp_path, capsys):
    # another pipeline's output: float16 rows and the texts themselves
    texts = sorted({t for p in load_pairs(hh_file)[0] for t in p.texts()})
    vectors = get_embedder("hash").embed(texts)
    np.save(tmp_path / "mine.npy", vectors.astype(np.float16))
    (tmp_path / "mine.json").write_text(json.dumps({"embedder": "hash", "texts": texts}))
    from rewardlab.embed.precomputed import PrecomputedEmbeddings

    f = PrecomputedEmbeddings(tmp_path / "mine.npy")
    np.testing.assert_array_equal(f.lookup(texts[::-1]), vectors[::-1].astype(np.float16).astype(np.float32))
    run_json(capsys, "train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embeddings",
             str(tmp_path / "mine.npy"), "--members", "2", "--epochs", "2")


@pytest.mark.parametrize("array, sidecar, why", [
    (np.zeros((2, 3), np.float32), None, "needs its sidecar"),
    (np.zeros((2, 3), np.float32), "not json", "is not JSON"),
    (np.zeros((2, 3), np.float32), {"texts": ["a", "b"]}, "naming its \"embedder\""),
    (np.zeros((2, 3), np.float32), {"embedder": "hash", "texts": ["a"]}, "lists 1 rows"),
    (np.zeros((2, 3), np.float32), {"embedder": "hash", "texts": ["a", "b"], "keys": ["00" * 16] * 2}, "either"),
    (np.zeros((2, 3), np.float32), {"embedder": "hash", "keys": ["zz", "00"]}, "hex digests"),
    (np.zeros((2, 3), np.float32), {"embedder": "hash", "texts": ["a", 3]}, "must be strings"),
    (np.zeros(3, np.float32), {"embedder": "hash", "texts": ["a"]}, "expected a float array"),
    (np.zeros((2, 3), np.int64), {"embedder": "hash", "texts": ["a", "b"]}, "expected a float array"),
    (np.array([[0.0, np.nan]], np.float32), {"embedder": "hash", "texts": ["a"]}, "non-finite vector"),
])
def test_bad_npy_files_are_refused_naming_what_is_wrong(array, sidecar, why, tmp_path):
    from rewardlab.embed.precomputed import PrecomputedEmbeddings

    np.save(tmp_path / "e.npy", array)
    if sidecar is not None:
        (tmp_path / "e.json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    with pytest.raises(ValueError, match=f"embeddings: .*{why}"):
        PrecomputedEmbeddings(tmp_path / "e.npy").lookup(["a"])


def test_a_pickled_npy_is_refused(tmp_path):
    from rewardlab.embed.precomputed import PrecomputedEmbeddings

    np.save(tmp_path / "e.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "e.json").write_text(json.dumps({"embedder": "hash", "texts": ["a"]}))
    with pytest.raises(ValueError, match="embeddings: .*is not a .npy array"):
        PrecomputedEmbeddings(tmp_path / "e.npy")


def test_writing_a_npy_never_replaces_a_json_file_that_is_not_its_sidecar(hh_file, tmp_path, capsys):
    data = tmp_path / "pairs.json"  # a data file with the sidecar's name
    data.write_text(hh_file.read_text())
    before = data.read_bytes()
    assert main(["embed", "--data", str(data), "--embedder", "hash", "--out", str(tmp_path / "pairs.npy"), "--no-cache",
                 "--quiet"]) == 2
    assert "would replace" in capsys.readouterr().err
    assert data.read_bytes() == before and not (tmp_path / "pairs.npy").exists()
    # its own sidecar is replaced on a rerun
    run_json(capsys, "embed", "--data", str(hh_file), "--embedder", "hash", "--out", str(tmp_path / "e.npy"), "--no-cache")
    run_json(capsys, "embed", "--data", str(hh_file), "--embedder", "hash", "--out", str(tmp_path / "e.npy"), "--no-cache")


def test_embed_never_overwrites_its_own_input_or_any_file_it_did_not_write(hh_file, tmp_path, capsys):
    data = tmp_path / "p.jsonl"
    data.write_text(hh_file.read_text())
    before = data.read_bytes()
    for out in (data, tmp_path / "p.json"):
        if out != data:
            out.write_text("{}")
        assert main(["embed", "--data", str(data), "--embedder", "hash", "--out", str(out), "--no-cache", "--quiet"]) == 2
        assert "not an embeddings file rewardlab wrote" in capsys.readouterr().err
    assert data.read_bytes() == before
    np.save(tmp_path / "x.npy", np.zeros((1, 2), np.float32))  # someone else's array, no sidecar
    assert main(["embed", "--data", str(data), "--embedder", "hash", "--out", str(tmp_path / "x.npy"), "--no-cache", "--quiet"]) == 2
    assert "rewardlab did not write" in capsys.readouterr().err
    # a file rewardlab wrote is replaced on a rerun
    out = tmp_path / "e.safetensors"
    for _ in range(2):
        run_json(capsys, "embed", "--data", str(data), "--embedder", "hash", "--out", str(out), "--no-cache")
