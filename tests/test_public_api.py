"""The public API: each capability package lists its names in ``__all__``, every one of them
resolves, and every public function, class and method has a docstring."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

PUBLIC = [
    "rewardlab",
    "rewardlab.models",
    "rewardlab.data",
    "rewardlab.embed",
    "rewardlab.credit",
    "rewardlab.credit.verl",
    "rewardlab.credit.openrlhf",
    "rewardlab.credit.trl",
    "rewardlab.redistribution",
    "rewardlab.shaping",
    "rewardlab.fastslow",
    "rewardlab.diagnostics",
    "rewardlab.datasets",
]


def undocumented(qualname: str, obj: object) -> list[str]:
    missing = []
    if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (obj.__doc__ or "").strip():
        missing.append(qualname)
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(member, (classmethod, staticmethod)):
                member = member.__func__
            elif isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member) and not (member.__doc__ or "").strip():
                missing.append(f"{qualname}.{name}")
    return missing


@pytest.mark.parametrize("package", PUBLIC)
def test_public_names_resolve_and_are_documented(package):
    module = importlib.import_module(package)
    assert (module.__doc__ or "").strip(), f"{package} has no docstring"
    names = module.__all__
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    missing = []
    for name in names:
        missing += undocumented(f"{package}.{name}", getattr(module, name))
    assert not missing, f"no docstring: {missing}"


def test_the_documentation_check_can_fail():
    class Bare:
        def method(self):
            pass

    def bare():
        pass

    assert undocumented("Bare", Bare) == ["Bare", "Bare.method"]
    assert undocumented("bare", bare) == ["bare"]


def test_importing_rewardlab_and_the_aggregation_rules_does_not_import_torch():
    code = ("import sys, rewardlab, rewardlab.shaping, rewardlab.diagnostics, rewardlab.fastslow\n"
            "rewardlab.aggregate; rewardlab.best_of_n\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
