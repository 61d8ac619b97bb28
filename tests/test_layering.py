"""The package's layers (docs/architecture.md): studies -> library -> core, never back.

Read from the source with ``ast`` (imports inside functions included), so a lazy import cannot
hide an upward dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rewardlab

PACKAGE = Path(rewardlab.__file__).parent

# lower numbers sit lower; a module may import its own layer and the ones below it
LAYERS = {
    "_core": 0, "errors": 0, "_utils": 0,
    "devices": 1,  # where the neural models run: lm, embed, models and fastslow read it
    "datasets": 1, "data": 1, "lm": 1,
    "embed": 2,
    "models": 3, "credit": 3,
    "shaping": 4, "redistribution": 4, "diagnostics": 4, "fastslow": 4,
    "__init__": 5,  # the facade: re-exports the capabilities
    "serve": 5,  # the reward service: serves the capabilities over HTTP
    "integrations": 5,  # the capabilities inside verl, OpenRLHF and TRL
    "studies": 6,
    "cli": 7,
}
LIBRARY = {name for name, layer in LAYERS.items() if layer <= LAYERS["__init__"]}
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def top_of(path: Path) -> str:
    """The first component under ``rewardlab`` of a file: ``credit`` for credit/verl.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_tops(source: str, package: tuple[str, ...]) -> set[str]:
    """Every ``rewardlab.X`` that ``source`` (a module of ``package``) imports, as ``X``, relative
    imports resolved."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
            if names[0] == "rewardlab":  # from rewardlab import x, y
                names = [f"rewardlab.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "rewardlab" and len(parts) > 1:
                found.add(parts[1])
    return found


def file_imports(path: Path) -> set[str]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # a package's __init__ belongs to the package itself
    return imported_tops(path.read_text(encoding="utf-8"), package)


def test_every_top_level_name_has_a_layer():
    tops = {top_of(p) for p in modules()}
    assert tops <= set(LAYERS), f"give these a layer in this test and docs/architecture.md: {tops - set(LAYERS)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_upward(path):
    own = LAYERS[top_of(path)]
    upward = {t for t in file_imports(path) if LAYERS.get(t, -1) > own}
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports {sorted(upward)} from above it"


def test_the_library_never_imports_the_studies_or_the_cli():
    offenders = [str(p.relative_to(PACKAGE)) for p in modules()
                 if top_of(p) in LIBRARY and file_imports(p) & {"studies", "cli"}]
    assert not offenders


def test_the_checker_sees_lazy_and_relative_imports():
    # the checks above must be able to fail: imports inside functions and relative ones count
    source = "import numpy\n\ndef f():\n    from rewardlab.studies import teaching\n    from ..cli import main\n    import rewardlab.models.ensemble\n"
    assert imported_tops(source, ("rewardlab", "shaping")) == {"studies", "cli", "models"}
    assert imported_tops("from rewardlab import credit, studies\n", ("rewardlab",)) == {"credit", "studies"}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_longer_than_the_limit(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concept"
