"""Concatenated embedders (``minilm+length``) and the reply-length feature."""

import json
import math
import shutil

import numpy as np
import pytest

from rewardlab.cli import main
from rewardlab.data.pairs import dialogue_text
from rewardlab.embed import check_spec, embed_texts, get_embedder, model_file_embedder, model_file_spec
from rewardlab.embed.concat import ConcatEmbedder
from rewardlab.embed.hashing import HashingEmbedder
from rewardlab.embed.length import LengthEmbedder
from tiny_models import tiny_policy

REPLIES = ["", "Sure.", "I can't help with that, sorry.", " ".join(["word"] * 1000)]


def test_length_is_the_log_of_the_replys_words_whatever_the_prompt():
    prompt = "\n\nHuman: an earlier turn\n\nAssistant: an earlier reply with many words in it\n\nHuman: now what?\n\nAssistant:"
    for context in ("full", "last_turn"):
        v = get_embedder("length").embed([dialogue_text(prompt, r, context) for r in REPLIES])
        expected = [math.log(1 + len(r.split())) / math.log(1001) for r in REPLIES]
        np.testing.assert_allclose(v[:, 0], expected, rtol=1e-6)
    assert v.shape == (4, 1) and v.dtype == np.float32 and v[-1, 0] == pytest.approx(1.0)
    # a bare text (no dialogue tags) counts all its words
    assert LengthEmbedder().embed(["three plain words"])[0, 0] == pytest.approx(math.log(4) / math.log(1001))


class Counting(HashingEmbedder):
    """The hashing embedder, recording what reaches it."""

    def __init__(self):
        super().__init__(dim=16)
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen.extend(texts)
        return super().embed(texts)


def test_a_concatenation_is_its_parts_side_by_side_each_from_its_own_cache(tmp_path):
    texts = [dialogue_text("\n\nHuman: hi\n\nAssistant:", r) for r in REPLIES]
    part = Counting()
    both = ConcatEmbedder([part, LengthEmbedder()])
    v = embed_texts(both, texts, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(v, np.hstack([HashingEmbedder(dim=16).embed(texts), LengthEmbedder().embed(texts)]))
    assert both.dim == 17 and v.shape == (4, 17)
    again = embed_texts(part, texts, cache_dir=tmp_path, progress=False)  # the part alone: cached rows
    assert len(part.seen) == 4
    np.testing.assert_array_equal(again, v[:, :16])
    spec = get_embedder("hash+length")
    assert spec.name == "hash+length" and spec.dim == 1025 and spec.id != get_embedder("hash").id


def test_concatenation_specs_are_checked():
    check_spec("minilm+length")
    check_spec("lm:/models/a+b")  # "b" is not an embedder: one path with a plus in it
    for twice in ("hash+hash", "lm:/m+length+lm:/m"):
        with pytest.raises(ValueError, match="names an embedder twice"):
            check_spec(twice)
    with pytest.raises(ValueError, match="'word2vec' is not an embedder"):
        check_spec("hash+word2vec")
    with pytest.raises(ValueError, match="'' is not an embedder"):
        get_embedder("minilm+")


def test_a_model_file_names_a_concatenation_and_each_part_is_checked(tmp_path):
    lm = tmp_path / "model" / "lm"
    lm.mkdir(parents=True)
    assert model_file_spec(f"lm:{lm}+length", tmp_path / "model") == "lm:lm+length"
    assert model_file_embedder("lm:lm+length", tmp_path / "model") == f"lm:{lm.resolve()}+length"
    with pytest.raises(ValueError, match="outside the model folder"):
        model_file_embedder("hash+lm:../elsewhere", tmp_path / "model")


def test_train_and_eval_with_a_concatenated_embedder_in_a_moved_model_folder(hh_file, tmp_path, capsys):
    out = tmp_path / "m"
    lm = tiny_policy(out / "lm")  # a model file may name a model inside its own folder only
    common = ["--no-cache", "--quiet", "--json"]
    assert main(["train", "--data", str(hh_file), "--out", str(out), "--embedder", f"lm:{lm}+length",
                 "--members", "2", "--epochs", "2", *common]) == 0
    capsys.readouterr()
    assert "lm:lm+length" in (out / "rewardlab_model.json").read_text()  # recorded relative, part by part
    shutil.move(out, tmp_path / "moved")
    assert main(["eval", "--model", str(tmp_path / "moved"), "--data", str(hh_file), "--split", "all", *common]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1
    elsewhere = tiny_policy(tmp_path / "lm")  # a spec naming a model outside --out: refused before training
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "n"), "--embedder", f"lm:{elsewhere}+length",
                 *common]) == 2
    assert "outside --out" in capsys.readouterr().err and not (tmp_path / "n").exists()
