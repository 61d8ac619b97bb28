"""The Ray Data executor on a local Ray instance: the same embeddings and scores as in-process, and
the embedding cache filled from the workers' batches."""

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from rewardlab.cli import main  # noqa: E402
from rewardlab.embed import EmbeddingCache, embed_texts, executors, get_embedder  # noqa: E402
from rewardlab.embed.executors import EmbedStage, RayExecutor  # noqa: E402
from rewardlab.errors import InvalidInputError  # noqa: E402
from rewardlab.models import RewardModel  # noqa: E402
from rewardlab.models.ray_scoring import score_texts_on  # noqa: E402
from tiny_models import tiny_reward_model  # noqa: E402

TEXTS = [f"\n\nHuman: question {i % 97} ?\n\nAssistant: answer {i} " + "word " * (i % 13) for i in range(1200)]


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture
def no_default_executor(monkeypatch):
    monkeypatch.setattr(executors, "_default", None)


def test_the_cache_is_filled_from_ray_workers_with_the_in_process_vectors(local_ray, tmp_path):
    embedder = get_embedder("hash")
    texts = TEXTS + TEXTS[:100]  # repeats are embedded once
    got = embed_texts(embedder, texts, cache_dir=tmp_path, executor=RayExecutor(workers=2, rows_per_batch=200))
    want = embed_texts(embedder, texts, cache_dir=False)  # in this process, no cache
    np.testing.assert_array_equal(got, want)
    cache = EmbeddingCache(tmp_path, embedder.id, embedder.dim)
    assert cache.missing(texts) == [] and len(cache) == len(TEXTS)


def test_a_torch_model_on_workers_gives_the_in_process_numbers(local_ray, tmp_path):
    spec = "hf:" + tiny_reward_model(tmp_path / "rm")
    embedder = get_embedder(spec, device="cpu", dtype="float32")
    got = embed_texts(embedder, TEXTS[:300], cache_dir=False, executor=RayExecutor(workers=2, rows_per_batch=64))
    np.testing.assert_allclose(got, embed_texts(embedder, TEXTS[:300], cache_dir=False), rtol=1e-5, atol=1e-6)


def test_whole_models_score_on_workers_as_in_process(local_ray, hh_file, tmp_path, capsys):
    model_dir = tmp_path / "m"
    assert main(["train", "--data", str(hh_file), "--out", str(model_dir), "--embedder", "hash", "--members", "3",
                 "--epochs", "3", "--quiet", "--no-cache"]) == 0
    got = score_texts_on(RayExecutor(workers=2, rows_per_batch=300), str(model_dir), TEXTS)
    want = RewardModel.load(model_dir).score_texts(TEXTS, cache_dir=False, progress=False)
    assert got.shape == (3, len(TEXTS))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_the_cli_with_ray_writes_what_it_writes_without(local_ray, hh_file, tmp_path, capsys, no_default_executor):
    model_dir = tmp_path / "m"
    assert main(["train", "--data", str(hh_file), "--out", str(model_dir), "--embedder", "hash", "--members", "2",
                 "--epochs", "2", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["score", "--model", str(model_dir), "--data", str(hh_file), "--quiet", "--no-cache"]) == 0
    here = capsys.readouterr().out
    cache = tmp_path / "cache"
    assert main(["score", "--model", str(model_dir), "--data", str(hh_file), "--quiet", "--cache-dir", str(cache),
                 "--ray", "--ray-workers", "2"]) == 0
    there = capsys.readouterr().out
    assert [json.loads(x) for x in there.splitlines()] == [json.loads(x) for x in here.splitlines()]
    assert any(cache.rglob("embeddings.sqlite"))  # the workers' vectors went through the cache


def test_a_worker_whose_embedder_differs_from_the_drivers_is_refused():
    with pytest.raises(InvalidInputError, match=r"^embedder: the worker's hash is '.*', the driver's 'other'"):
        EmbedStage("hash", expect_id="other")


def test_executor_settings_are_checked():
    with pytest.raises(InvalidInputError, match="^workers: must be at least 1"):
        RayExecutor(workers=0)
    with pytest.raises(InvalidInputError, match="^num_gpus: must be >= 0"):
        RayExecutor(num_gpus=-1)
