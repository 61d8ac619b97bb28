"""The type stubs name exactly the functions the native module exports."""

import re
from pathlib import Path

from rewardlab import _core


def test_every_native_function_has_a_stub_and_no_stub_is_stale():
    stub = (Path(_core.__file__).parent / "_core.pyi").read_text()
    stubbed = set(re.findall(r"^def (\w+)\(", stub, re.MULTILINE))
    exported = {n for n in dir(_core) if not n.startswith("_") and callable(getattr(_core, n)) and n != "InvalidInputError"}
    assert exported - stubbed == set(), "functions without a stub"
    assert stubbed - exported == set(), "stubs of functions that do not exist"
