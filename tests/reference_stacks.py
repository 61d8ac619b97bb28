"""The real reference implementations, loaded from the installed PyPI packages.

verl imports cleanly on a CPU machine once its import-time dependencies are present. OpenRLHF's
module imports deepspeed/ray/vllm at the top, and TRL's GRPO normalisation is inline in a trainer
method, so for those two we compile the *upstream source text* of exactly the functions (or the
block) under test, taken from the installed package files, in a namespace holding torch and the
upstream helpers. No line of the reference is rewritten here.
"""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import textwrap
import types
from typing import Any, Callable

import pytest
import torch


def _package_file(pkg: str, rel: str) -> pathlib.Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{pkg} is not installed (install the test extras: see README)")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / rel


def _functions(path: pathlib.Path, names: list[str], namespace: dict[str, Any]) -> dict[str, Callable]:
    tree = ast.parse(path.read_text())
    found: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in names:
            found[node.name] = node
    missing = set(names) - set(found)
    assert not missing, f"{missing} not found in {path}: the upstream file changed"
    out = {}
    for name, node in found.items():
        node.decorator_list = []  # @torch.no_grad() only; inputs here never require grad
        module = ast.Module(body=[node], type_ignores=[])
        exec(compile(module, str(path), "exec"), namespace)
        out[name] = namespace[name]
    return out


def verl() -> types.SimpleNamespace:
    core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")
    tf = pytest.importorskip("verl.utils.torch_functional")
    import verl

    assert verl.__version__ == "0.9.1", f"tests pin verl 0.9.1, found {verl.__version__}"
    return types.SimpleNamespace(core_algos=core_algos, masked_whiten=tf.masked_whiten)


def openrlhf() -> types.SimpleNamespace:
    from typing import List, Optional, Tuple, Union

    ns: dict[str, Any] = {"torch": torch, "Optional": Optional, "Tuple": Tuple, "Union": Union, "List": List, "KL_IS_WEIGHT_CLIP": 10.0}
    utils = _functions(_package_file("openrlhf", "models/utils.py"), ["compute_approx_kl", "compute_reward"], ns)
    maker = _functions(
        _package_file("openrlhf", "trainer/ppo_utils/experience_maker.py"),
        ["get_advantages_and_returns", "get_cumulative_returns"],
        ns,
    )
    gae, cum = maker["get_advantages_and_returns"], maker["get_cumulative_returns"]
    return types.SimpleNamespace(
        compute_approx_kl=utils["compute_approx_kl"],
        compute_reward=utils["compute_reward"],
        get_advantages_and_returns=lambda *a: gae(None, *a),  # the methods never read self
        get_cumulative_returns=lambda *a: cum(None, *a),
    )


def trl_grpo_block() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """TRL's inline GRPO normalisation, from ``unscorable_mask = ...`` to ``nan_to_num``."""
    trl_utils = pytest.importorskip("trl.trainer.utils")
    path = _package_file("trl", "trainer/grpo_trainer.py")
    tree = ast.parse(path.read_text())
    method = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_generate_and_score_completions"
    )
    body = method.body
    start = next(i for i, s in enumerate(body) if isinstance(s, ast.Assign) and ast.unparse(s.targets[0]) == "unscorable_mask")
    end = next(
        i for i, s in enumerate(body) if isinstance(s, ast.Assign) and "nan_to_num" in ast.unparse(s.value) and i > start
    )
    block = ast.Module(body=body[start : end + 1], type_ignores=[])
    code = compile(block, str(path), "exec")

    def run(rewards_per_func, reward_weights, num_generations, scale_rewards, aggregation):
        trainer = types.SimpleNamespace(
            scale_rewards=scale_rewards,
            multi_objective_aggregation=aggregation,
            reward_weights=torch.as_tensor(reward_weights, dtype=rewards_per_func.dtype),
            reward_funcs=[None] * rewards_per_func.shape[1],
        )
        ns = {"torch": torch, "nanstd": trl_utils.nanstd, "self": trainer, "rewards_per_func": rewards_per_func,
              "num_generations": num_generations, "device": rewards_per_func.device}
        exec(code, ns)
        return ns["advantages"], ns["is_std_zero"]

    return run
