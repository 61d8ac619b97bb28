"""A small trained reward model and what ``rewardlab score`` writes for it: the reference the
service and the trainer integrations are compared with (a pytest plugin of tests/conftest.py)."""

import gzip
import json

import pytest

from rewardlab import datasets
from rewardlab.cli import main
from rewardlab.data import load_pairs



@pytest.fixture(scope="session")
def hh_file(tmp_path_factory):
    """The first 300 HH-RLHF rows."""
    path = tmp_path_factory.mktemp("serve-data") / "hh.jsonl"
    with gzip.open(datasets.path(datasets.HH), "rt", encoding="utf-8") as fh:
        path.write_text("".join(next(fh) for _ in range(300)), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def model_dir(hh_file, tmp_path_factory):
    """A 3-member ensemble on the hashing embedder (no neural model: the server is under test)."""
    out = tmp_path_factory.mktemp("serve-model") / "rm"
    assert main(["train", "--data", str(hh_file), "--out", str(out), "--embedder", "hash", "--members", "3",
                 "--epochs", "5", "--quiet", "--json"]) == 0
    return out


@pytest.fixture(scope="session")
def offline(hh_file, model_dir, tmp_path_factory):
    """``rewardlab score`` on the same file: the pairs and their scored rows, in order."""
    out = tmp_path_factory.mktemp("serve-offline") / "scores.jsonl"
    assert main(["score", "--model", str(model_dir), "--data", str(hh_file), "--out", str(out), "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    pairs, _ = load_pairs(hh_file)
    assert len(rows) == len(pairs)
    return pairs, rows
