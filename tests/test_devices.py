"""--device and --dtype: what is refused (naming what is available), and what a precision other
than float32 changes (the numbers, within that precision's tolerance, and the cache key)."""

import numpy as np
import pytest
import torch

from rewardlab import devices
from rewardlab.cli import main
from rewardlab.errors import InvalidInputError
from tiny_models import tiny_policy

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


@pytest.fixture
def default_placement(monkeypatch):
    """Restores the process's placement after a test that sets it."""
    monkeypatch.setattr(devices, "_default", devices.Placement())


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_forms_that_are_accepted(spec):
    assert devices.check_device(spec) == spec


@pytest.mark.parametrize("spec", ["", "gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", "tpu", " cpu", None, 0])
def test_device_forms_that_are_refused_name_the_argument(spec):
    with pytest.raises(InvalidInputError, match=r"^device: expected one of auto, cpu, cuda, cuda:N, mps"):
        devices.check_device(spec)


@no_cuda
@pytest.mark.parametrize("spec", ["cuda", "cuda:1", "mps"])
def test_a_device_that_is_not_there_is_refused_with_what_is(spec):
    if spec == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(InvalidInputError, match=rf"^device: {spec} is not available here .*; available: cpu$"):
        devices.resolve_device(spec)


@no_cuda
def test_auto_is_the_cpu_in_float32_without_a_gpu():
    assert devices.resolve("auto", "auto") == (torch.device("cpu"), torch.float32)
    assert devices.resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16


@no_cuda
@pytest.mark.parametrize("command", [["eval", "--model", "m", "--data", "d"], ["credit", "--data", "d"],
                                     ["judge", "--data", "d"], ["serve", "--model", "m"]])
def test_the_cli_refuses_a_missing_gpu_before_reading_anything(command, capsys, default_placement):
    # the model and data named do not exist: the device is what is refused, first, in one line
    assert main([*command, "--device", "cuda:0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rewardlab {command[0]}: error: device: cuda:0 is not available here")
    assert err.endswith("available: cpu") and "Traceback" not in err and "\n" not in err


def test_the_cli_refuses_a_malformed_device_while_parsing(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["eval", "--model", "m", "--data", "d", "--device", "gpu0"])
    assert exit.value.code == 2
    assert "argument --device: expected one of auto, cpu, cuda, cuda:N, mps, got 'gpu0'" in capsys.readouterr().err


@no_cuda
def test_head_training_on_a_missing_device_is_refused():
    from rewardlab.models.training import PairFeatures, TrainConfig, train_member

    feats = PairFeatures(np.zeros((4, 3), np.float32), np.ones((4, 3), np.float32))
    with pytest.raises(InvalidInputError, match="^device: cuda is not available"):
        train_member(feats, None, TrainConfig(device="cuda"), 0, "hash")
    with pytest.raises(InvalidInputError, match="^device: expected one of"):
        TrainConfig(device="gpu").validate()


def test_a_causal_lm_embedder_in_bfloat16_is_close_to_float32_and_cached_apart(tmp_path):
    from rewardlab.embed import embed_texts, get_embedder

    spec = "lm:" + tiny_policy(tmp_path / "lm")
    full, half = get_embedder(spec, device="cpu", dtype="float32"), get_embedder(spec, device="cpu", dtype="bfloat16")
    assert half is not full and get_embedder(spec, device="cpu", dtype="bfloat16") is half  # one load per placement
    assert half.model.dtype == torch.bfloat16 and full.model.dtype == torch.float32
    assert half.id == full.id + "|bfloat16"  # the float32 key is the one CPU caches always had
    texts = ["Human: hello ? Assistant: thanks", "Human: help ? Assistant: sorry i can not do that"]
    a = embed_texts(full, texts, cache_dir=tmp_path / "cache")
    b = embed_texts(half, texts, cache_dir=tmp_path / "cache")
    assert not np.array_equal(a, b)  # the bfloat16 rows were embedded, not read from float32's
    np.testing.assert_allclose(b, a, rtol=0.05, atol=0.05 * np.abs(a).max())  # bfloat16 keeps ~3 digits


def test_minilm_in_bfloat16_points_where_float32_does():
    from rewardlab.embed import get_embedder

    full, half = get_embedder("minilm", device="cpu", dtype="float32"), get_embedder("minilm", device="cpu", dtype="bfloat16")
    texts = ["Human: how do I bake bread?\n\nAssistant: Mix flour, water, salt and yeast.", "Human: hi\n\nAssistant: hello"]
    a, b = full.embed(texts), half.embed(texts)
    assert b.dtype == np.float32 and half.id.endswith("|bfloat16") and not full.id.endswith("16")
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert (cosine > 0.99).all(), cosine


def test_the_process_default_places_what_is_built_without_an_argument(tmp_path, default_placement):
    from rewardlab.embed import get_embedder
    from rewardlab.redistribution.prefix_values import PrefixLM, completion_logprobs

    folder = tiny_policy(tmp_path / "lm")
    devices.set_default("cpu", "bfloat16")
    assert get_embedder("lm:" + folder).model.dtype == torch.bfloat16
    half = PrefixLM.load(folder)
    full = PrefixLM.load(folder, dtype="float32")  # an explicit argument wins over the default
    assert half.model.dtype == torch.bfloat16 and full.model.dtype == torch.float32
    prefixes, completions = ["hello ?", "help ? i"], [" thanks", " can not do that"]
    np.testing.assert_allclose(completion_logprobs(half, prefixes, completions),
                               completion_logprobs(full, prefixes, completions), rtol=0.05, atol=0.1)


class Recorder:
    """An embedder that counts one token per word and keeps the batches it was given."""

    name, id, dim = "recorder", "recorder|v1", 2

    def __init__(self):
        self.batches = []

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def embed(self, texts):
        self.batches.append(list(texts))
        return np.zeros((len(texts), 2), np.float32)


def test_max_batch_tokens_sets_the_budget_of_every_embedding_batch(default_placement, capsys):
    from rewardlab.embed import DEFAULT_BATCH_TOKENS, embed_texts

    texts = ["w " * n for n in (5, 3, 3, 2, 1, 1, 9)]
    rec = Recorder()
    embed_texts(rec, texts, cache_dir=False)
    assert len(rec.batches) == 1 and DEFAULT_BATCH_TOKENS >= 9 * len(texts)  # the default fits them all
    devices.set_default("cpu", "auto", batch_tokens=6)
    rec = Recorder()
    embed_texts(rec, texts, cache_dir=False)
    assert [len(b) for b in rec.batches] == [1, 1, 2, 3]  # 9 | 5 | 3 3 | 2 1 1 (padded to 2: 3 x 2 = 6)
    with pytest.raises(InvalidInputError, match="^max_batch_tokens: must be a positive integer"):
        devices.set_default("cpu", "auto", batch_tokens=0)
    with pytest.raises(SystemExit):
        main(["eval", "--model", "m", "--data", "d", "--max-batch-tokens", "0"])
    assert "argument --max-batch-tokens: must be at least 1, got 0" in capsys.readouterr().err
