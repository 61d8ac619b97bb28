"""Types: the package passes mypy (pyproject's [tool.mypy]), a user's script over the public API
passes ``mypy --strict``, and the native module's stub matches the compiled module (stubtest).

The three runs share one mypy cache, so the second and third reuse what the first analysed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")
ROOT = Path(__file__).resolve().parents[1]
USER_SCRIPT = Path(__file__).parent / "typing" / "user_script.py"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mypy-cache"))


def mypy(*args: str, cache: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", cache, *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "MYPY_FORCE_COLOR": "0"})


def test_the_package_type_checks(cache):
    out = mypy(cache=cache)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_user_script_type_checks_strictly(cache):
    out = mypy("--strict", str(USER_SCRIPT), cache=cache)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_user_script_runs(tmp_path):
    # the checked script is also real code: it runs against the installed package
    out = subprocess.run([sys.executable, str(USER_SCRIPT)], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_strict_checking_can_fail(cache, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from rewardlab.models import aggregate\n\nx: int = aggregate([[1.0]])\n")
    out = mypy("--strict", str(bad), cache=cache)
    assert out.returncode == 1 and "Incompatible types" in out.stdout


def test_the_native_stub_matches_the_compiled_module(cache):
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "rewardlab._core", "--mypy-config-file", "pyproject.toml"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MYPY_CACHE_DIR": cache})
    assert out.returncode == 0, out.stdout + out.stderr
