"""Times each rewardlab drop-in against the reference implementation it replaces, in one run.

Batches of 1024 x 1024 and 256 x 8192 float32 tokens, right-padded responses of random length,
groups of 8 keyed by uuid strings (as verl's uids). For every kernel it prints the median time of
rewardlab, of each reference (verl 0.9.1 loop and vectorised versions, OpenRLHF 0.11.2, TRL
1.16.0), and of a plain memory copy of the same input bytes (`Tensor.copy_` into buffers allocated once),
the physical floor.
Ratios: speed-up of rewardlab over each reference, and rewardlab's time over the copy floor.

    python benches/bench_credit.py [--reps N] [--runs N] [--json FILE] [--glibc-defaults]

The references' torch allocations run with glibc told to keep freed memory (KEEP_MEMORY below),
as rewardlab's own outputs do; --glibc-defaults times both with glibc's defaults instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import types
import uuid

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from rewardlab.credit import openrlhf as rl_openrlhf  # noqa: E402
from rewardlab.credit import trl as rl_trl  # noqa: E402
from rewardlab.credit import verl as rl_verl  # noqa: E402
from timing import median_ms, require_release  # noqa: E402

GROUP = 8


def make_batch(b, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).to(torch.int64)
    rewards = torch.zeros(b, t)
    rewards[torch.arange(b), lengths - 1] = torch.randint(0, 2, (b,), generator=g).float()  # outcome on the last token
    values = torch.randn(b, t, generator=g)
    logp = -torch.rand(b, t, generator=g) * 5
    ref = -torch.rand(b, t, generator=g) * 5
    uids = [str(uuid.UUID(int=i)) for i in range(b // GROUP)]
    index = np.array([u for u in uids for _ in range(GROUP)], dtype=object)
    return types.SimpleNamespace(rewards=rewards, values=values, mask=mask, logp=logp, ref=ref, index=index, b=b, t=t)


def floor_copy(*tensors):
    """Copies the inputs into buffers allocated once: memory bandwidth only, without the page
    faults of fresh allocations that make `clone` swing by 10x between runs."""
    dst = [torch.empty_like(x) for x in tensors]
    return lambda: [d.copy_(x) for d, x in zip(dst, tensors)]


def cases(d, verl, orl, trl_block):
    cfg = types.SimpleNamespace(gamma=1.0)
    rows = []
    rows.append(("GAE (verl)", lambda: rl_verl.compute_gae_advantage_return(d.rewards, d.values, d.mask, 1.0, 0.95),
                 {"verl loop": lambda: verl.compute_gae_advantage_return(d.rewards, d.values, d.mask, 1.0, 0.95)},
                 floor_copy(d.rewards, d.values, d.mask)))
    if orl is not None:
        rows.append(("GAE (OpenRLHF)", lambda: rl_openrlhf.get_advantages_and_returns(d.values, d.rewards, d.mask, 1.0, 0.95),
                     {"OpenRLHF loop": lambda: orl.get_advantages_and_returns(d.values, d.rewards, d.mask, 1.0, 0.95)},
                     floor_copy(d.rewards, d.values, d.mask)))
    rows.append(("GRPO", lambda: rl_verl.compute_grpo_outcome_advantage(d.rewards, d.mask, d.index),
                 {"verl loop": lambda: verl.compute_grpo_outcome_advantage(d.rewards, d.mask, d.index),
                  "verl vectorised": lambda: verl.compute_grpo_vectorized_outcome_advantage(d.rewards, d.mask, d.index)},
                 floor_copy(d.rewards, d.mask)))
    rows.append(("RLOO", lambda: rl_verl.compute_rloo_outcome_advantage(d.rewards, d.mask, d.index),
                 {"verl loop": lambda: verl.compute_rloo_outcome_advantage(d.rewards, d.mask, d.index),
                  "verl vectorised": lambda: verl.compute_rloo_vectorized_outcome_advantage(d.rewards, d.mask, d.index)},
                 floor_copy(d.rewards, d.mask)))
    rows.append(("REINFORCE++", lambda: rl_verl.compute_reinforce_plus_plus_outcome_advantage(d.rewards, d.mask, config=cfg),
                 {"verl loop": lambda: verl.compute_reinforce_plus_plus_outcome_advantage(d.rewards, d.mask, config=cfg)},
                 floor_copy(d.rewards, d.mask)))
    rows.append(("REINFORCE++-baseline", lambda: rl_verl.compute_reinforce_plus_plus_baseline_outcome_advantage(d.rewards, d.mask, d.index),
                 {"verl loop": lambda: verl.compute_reinforce_plus_plus_baseline_outcome_advantage(d.rewards, d.mask, d.index)},
                 floor_copy(d.rewards, d.mask)))
    rows.append(("KL k3 (verl)", lambda: rl_verl.kl_penalty(d.logp, d.ref, "low_var_kl"),
                 {"verl torch": lambda: verl.kl_penalty(d.logp, d.ref, "low_var_kl")},
                 floor_copy(d.logp, d.ref)))
    if orl is not None:
        rows.append(("KL k3 + reward (OpenRLHF)",
                     lambda: rl_openrlhf.compute_reward(d.rewards[:, 0], 0.01, rl_openrlhf.compute_approx_kl(d.logp, d.ref, kl_estimator="k3"), d.mask),
                     {"OpenRLHF torch": lambda: orl.compute_reward(d.rewards[:, 0], 0.01, orl.compute_approx_kl(d.logp, d.ref, kl_estimator="k3"), d.mask)},
                     floor_copy(d.logp, d.ref, d.mask)))
    if trl_block is not None:
        scores = d.rewards.sum(-1, keepdim=True)
        rows.append(("GRPO group norm (TRL)", lambda: rl_trl.grpo_advantages(scores, [1.0], GROUP),
                     {"TRL torch": lambda: trl_block(scores.clone(), [1.0], GROUP, "group", "sum_then_normalize")},
                     floor_copy(scores)))
    return rows


# glibc returns freed multi-MiB blocks to the system depending on adaptive thresholds, and the
# next allocation then page-faults in again (~0.5 ms per 4 MiB), so a reference's timing swung
# up to 10x between runs. rewardlab's own outputs reuse kept blocks (rewardlab_core::retain);
# these settings give the references' torch allocations the same treatment, so that both sides
# are timed on memory that stays mapped (as PyTorch's CPU performance guide advises).
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole table and report per-entry medians")
    ap.add_argument("--sizes", default="1024x1024,256x8192")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--glibc-defaults", action="store_true", help="do not set KEEP_MEMORY for the references")
    args = ap.parse_args()
    if not args.glibc_defaults and any(os.environ.get(k) != v for k, v in KEEP_MEMORY.items()):
        # glibc reads these at start-up only
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **KEEP_MEMORY})
    require_release()
    torch.set_num_threads(os.cpu_count() or 1)
    import reference_stacks as refs

    verl = refs.verl().core_algos
    try:
        orl = refs.openrlhf()
    except BaseException as e:  # pytest.skip is a BaseException
        print(f"OpenRLHF not installed ({e}); skipping its rows")
        orl = None
    try:
        trl_block = refs.trl_grpo_block()
    except BaseException as e:
        print(f"TRL not installed ({e}); skipping its rows")
        trl_block = None

    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    memory = "glibc defaults" if args.glibc_defaults else "glibc keeping freed memory for both sides"
    print(f"rewardlab credit benchmark: medians of {args.reps} calls, over {args.runs} run(s), float32, groups of {GROUP}; {memory}; {machine}")
    batches = {size: make_batch(*(int(x) for x in size.split("x"))) for size in args.sizes.split(",")}
    # times[(size, kernel)] = {"rewardlab": [...], "copy": [...], ref_name: [...]}, one entry per run
    times: dict = {}
    for _ in range(args.runs):
        for size, d in batches.items():
            for name, ours, references, floor in cases(d, verl, orl, trl_block):
                entry = times.setdefault((size, name), {})
                entry.setdefault("rewardlab", []).append(median_ms(ours, args.reps))
                entry.setdefault("copy", []).append(median_ms(floor, args.reps))
                for ref_name, ref in references.items():
                    reps = max(3, args.reps // 2) if "loop" in ref_name else args.reps
                    entry.setdefault(ref_name, []).append(median_ms(ref, reps))

    header = f"{'kernel':<28} {'B x T':>11} {'rewardlab ms':>12} {'reference':>16} {'ref ms':>10} {'speed-up':>9} {'copy ms':>9} {'/copy':>6}"
    print(header)
    print("-" * len(header))
    results = []
    for (size, name), entry in times.items():
        ours_ms, floor_ms = statistics.median(entry["rewardlab"]), statistics.median(entry["copy"])
        for i, ref_name in enumerate(k for k in entry if k not in ("rewardlab", "copy")):
            ref_ms = statistics.median(entry[ref_name])
            first = i == 0
            print(f"{name if first else '':<28} {size if first else '':>11} {ms(ours_ms) if first else '':>12} "
                  f"{ref_name:>16} {ms(ref_ms):>10} {ref_ms / ours_ms:>8.1f}x {ms(floor_ms) if first else '':>9} "
                  f"{f'{ours_ms / floor_ms:.1f}' if first else '':>6}")
            results.append({"kernel": name, "size": size, "rewardlab_ms": ours_ms, "reference": ref_name,
                            "reference_ms": ref_ms, "speedup": ref_ms / ours_ms, "copy_ms": floor_ms,
                            "over_copy": ours_ms / floor_ms, "runs": {k: v for k, v in entry.items()}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "memory": memory, "runs": args.runs, "results": results}, f, indent=1)


def ms(x: float) -> str:
    """Milliseconds with two decimals, four below 0.1 ms (TRL's normalisation takes microseconds)."""
    return f"{x:.2f}" if x >= 0.1 else f"{x:.4f}"


if __name__ == "__main__":
    main()
