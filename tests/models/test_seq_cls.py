"""A transformers sequence-classification reward model (``hf:PATH``) as a rewardlab scorer: its
scores equal transformers called directly, one text at a time; it is evaluated, ensembled beside
embedding heads, used as the fast-slow judge's fast path and served."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")

from rewardlab.cli import main  # noqa: E402
from rewardlab.data import load_pairs  # noqa: E402
from rewardlab.data.pairs import dialogue_text, dialogue_turns  # noqa: E402
from rewardlab.models import RewardModel  # noqa: E402
from servers import start  # noqa: E402
from tiny_models import tiny_reward_model  # noqa: E402


def hh_words(path, n=3000):
    """The most frequent words of the file, so that the tiny tokenizer reads more than <unk>."""
    from collections import Counter

    counts = Counter(w for line in open(path, encoding="utf-8") for w in json.loads(line)["chosen"].split())
    return [w for w, _ in counts.most_common(n)]


@pytest.fixture(scope="module")
def pairs(hh_file):
    return load_pairs(hh_file)[0][:60]


@pytest.fixture(scope="module", params=[False, True], ids=["text", "chat-template"])
def rm_both(request, tmp_path_factory, hh_file):
    folder = tmp_path_factory.mktemp("rm") / "rm"
    return tiny_reward_model(folder, hh_words(hh_file), chat=request.param), request.param


@pytest.fixture(scope="module")
def rm(tmp_path_factory, hh_file):
    """The chat-template model: the rendering is what the other paths must get right too."""
    folder = tmp_path_factory.mktemp("rm-chat") / "rm"
    return tiny_reward_model(folder, hh_words(hh_file), chat=True), True


def direct(folder, texts, chat):
    """The reference: transformers' own classes, one text at a time (no padding, no batching)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out = []
    with torch.inference_mode():
        for t in texts:
            s = tok.apply_chat_template(dialogue_turns(t), tokenize=False) if chat else t
            out.append(float(model(**tok(s, return_tensors="pt", add_special_tokens=not chat)).logits[0, 0]))
    return np.array(out)


def test_scores_equal_transformers_called_directly_and_are_cached(rm_both, pairs, tmp_path):
    folder, chat = rm_both
    texts = [t for p in pairs for t in p.texts()]
    model = RewardModel.load(f"hf:{folder}")
    want = direct(folder, texts, chat)
    first = model.score_texts(texts, cache_dir=tmp_path, progress=False)
    assert first.shape == (1, len(texts))
    np.testing.assert_allclose(first[0], want, rtol=1e-4, atol=1e-5)  # batched, length-sorted, right-padded
    again = model.score_texts(texts, cache_dir=tmp_path, progress=False)  # read from the cache
    np.testing.assert_array_equal(again, first)


def test_two_checkpoints_of_one_architecture_do_not_share_cache_rows(tmp_path):
    from rewardlab.embed import get_embedder

    a = get_embedder("hf:" + tiny_reward_model(tmp_path / "a" / "rm", seed=0))
    b = get_embedder("hf:" + tiny_reward_model(tmp_path / "b" / "rm", seed=1))
    assert a.id != b.id and a.id.startswith("hf-seq-cls/rm-")


def test_eval_reports_the_accuracy_of_its_own_scores(rm, hh_file, capsys):
    folder, chat = rm
    assert main(["eval", "--model", f"hf:{folder}", "--data", str(hh_file), "--json", "--no-cache", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    every, _ = load_pairs(hh_file)
    c = direct(folder, [p.texts()[0] for p in every], chat)
    r = direct(folder, [p.texts()[1] for p in every], chat)
    assert out["split"] == "all" and out["n_pairs"] == len(every) and out["members"] == [out["accuracy"]]
    assert out["accuracy"] == pytest.approx(((c > r).sum() + 0.5 * (c == r).sum()) / len(every))


def test_a_reward_model_joins_a_trained_ensemble_as_one_member(rm, hh_file, tmp_path, capsys):
    folder, chat = rm
    out = tmp_path / "ens"
    shutil.copytree(folder, out / "rm")  # a model file names models only inside its own folder
    assert main(["train", "--data", str(hh_file), "--out", str(out), "--embedder", "hash", "--embedder",
                 f"hf:{out / 'rm'}", "--members", "2", "--epochs", "2", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 3
    config = json.loads((out / "rewardlab_model.json").read_text())
    assert [m["embedder"] for m in config["members"]] == ["hash", "hash", "hf:rm"]  # relative: the folder can move
    moved = tmp_path / "moved"
    shutil.move(out, moved)
    model = RewardModel.load(moved)
    member = model.members[-1]
    assert member.info["fixed"] and member.scale > 0
    texts = [dialogue_text("\n\nHuman: hi", " hello there"), dialogue_text("\n\nHuman: help?", " no")]
    got = model.score_texts(texts, cache_dir=False, progress=False)[-1]
    np.testing.assert_allclose(got, (direct(moved / "rm", texts, chat) - member.offset) / member.scale, rtol=1e-4, atol=1e-5)


def test_a_reward_model_outside_the_output_folder_is_refused_before_training(rm, hh_file, tmp_path, capsys):
    folder, _ = rm
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "ens"), "--embedder", f"hf:{folder}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"embedder: hf:{folder} is outside --out" in err and "copy it into" in err
    assert not (tmp_path / "ens").exists()


def test_a_reward_model_that_is_not_one_is_refused(tmp_path, capsys):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from tiny_models import word_tokenizer

    assert main(["eval", "--model", f"hf:{tmp_path}", "--data", "x.jsonl"]) == 2
    assert "expected a transformers model folder with a config.json" in capsys.readouterr().err
    two = tmp_path / "two"
    LlamaForSequenceClassification(LlamaConfig(vocab_size=30, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                                               num_attention_heads=1, num_labels=2, pad_token_id=0)).save_pretrained(two)
    word_tokenizer().save_pretrained(two)
    with pytest.raises(ValueError, match="a reward model has one output; this one has num_labels=2"):
        RewardModel.load(f"hf:{two}").score_texts(["a"], cache_dir=False)


def test_the_fast_path_of_the_fast_slow_judge_is_the_reward_margin(rm, pairs):
    from rewardlab.fastslow.fast_slow import ensemble_fast_scores
    from rewardlab.fastslow.judge import JudgeItem

    folder, chat = rm
    items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in pairs[:10]]
    fast = ensemble_fast_scores(RewardModel.load(f"hf:{folder}"), items, cache_dir=False)
    a = direct(folder, [dialogue_text(it.prompt, it.a) for it in items], chat)
    b = direct(folder, [dialogue_text(it.prompt, it.b) for it in items], chat)
    np.testing.assert_allclose(fast.score, a - b, rtol=1e-4, atol=1e-5)
    assert fast.c2 is None and fast.name == "reward-model"  # one model: no members to agree


def test_rewardlab_serve_serves_it(rm, pairs):
    from rewardlab.serve.client import score_endpoint, score_remote

    folder, chat = rm
    server = start(f"hf:{folder}")
    try:
        prompts, responses = [p.prompt for p in pairs[:12]], [p.chosen for p in pairs[:12]]
        got = score_remote(score_endpoint(server.url), prompts, responses)
    finally:
        server.stop()
    want = direct(folder, [dialogue_text(p, r) for p, r in zip(prompts, responses)], chat)
    np.testing.assert_allclose([it["reward"] for it in got["items"]], want, rtol=1e-4, atol=1e-5)


def test_a_reward_model_concatenated_with_length_trains_a_head_on_both(rm, hh_file, tmp_path, capsys):
    # hf:PATH alone joins as it is; hf:PATH+length is two features, on which heads are trained
    folder, _ = rm
    out = tmp_path / "ens"
    shutil.copytree(folder, out / "rm")
    assert main(["train", "--data", str(hh_file), "--out", str(out), "--embedder", f"hf:{out / 'rm'}+length",
                 "--members", "2", "--epochs", "2", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 2
    config = json.loads((out / "rewardlab_model.json").read_text())
    assert [m["embedder"] for m in config["members"]] == ["hf:rm+length"] * 2
    model = RewardModel.load(out)
    assert all(m.head.config.dim == 2 for m in model.members)
    assert main(["eval", "--model", str(out), "--data", str(hh_file), "--split", "all", "--json", "--quiet"]) == 0
