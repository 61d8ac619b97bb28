"""Razin et al.'s prediction on a real GRPO loop: of two reward models with similar accuracy, does
the one with the higher reward variance under the initial policy raise the proxy gold faster?

    python examples/razin_teachers.py --workdir grpo-run/work --out razin

1. Trains the candidate reward models (``--candidates``) on the reward part of the HH file (the
   same cut as ``grpo_with_rewardlab.py``) and measures each one's pairwise accuracy on the RL
   part's pairs, which none of them trained on.
2. Samples ``--sample-prompts`` x ``--samples`` completions from the initial policy and measures,
   per candidate, the share of its reward variance that lies within prompts: mean within-group
   variance / variance over all samples. That share is what a GRPO step with batch-scaled
   advantages (``--scale-rewards batch``) feeds on, and it does not depend on the model's scale.
3. Picks the pair with accuracies within ``--max-accuracy-gap`` and the largest ratio of shares.
4. Runs ``grpo_with_rewardlab.py`` for each of the two and each seed, with the same gold model and
   batch-scaled advantages, and reports the gold reward's gain per run, the mean over seeds and
   the spread.

Writes ``razin.json`` to ``--out`` (and each run's folder beside it).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CANDIDATES = "minilm-bt:minilm:bt,minilm-margin:minilm:margin,minilm-cls:minilm:cls,hash-bt:hash:bt"


def example():
    spec = importlib.util.spec_from_file_location("grpo_with_rewardlab", HERE / "grpo_with_rewardlab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def within_share(ex, model_dir: Path, requests: list[str], completions: list[list[str]], chat: bool) -> dict:
    """Mean within-prompt variance of the model's rewards over the samples, and its share of the
    variance over all samples."""
    from rewardlab.integrations.trl import reward_function

    f = reward_function(model_dir)
    rewards = np.array([f([ex.as_prompt(r, chat)] * len(cs), cs) for r, cs in zip(requests, completions)])
    within = float(rewards.var(axis=1, ddof=1).mean())
    total = float(rewards.reshape(-1).var(ddof=1))
    return {"within_variance": within, "total_variance": total, "within_share": within / total}


def gold_gain(run: Path, k: int) -> dict:
    """A run's gains: on the held-out prompts (sampled before and after training, the headline),
    and in the training log (mean of the last ``k`` steps minus the first ``k``: other prompts each
    step, so noisier)."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    gold = [r["rewards/gold/mean"] for r in rows if "rewards/gold/mean" in r]
    own = [r["rewards/rewardlab/mean"] for r in rows if "rewards/rewardlab/mean" in r]
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return {"gold": gold, "reward": own, "gold_gain": summary["gold_gain"]["gain"], "gold_gain_ci95": summary["gold_gain"]["ci95"],
            "reward_gain": summary["reward_gain"]["gain"], "log_gold_gain": float(np.mean(gold[-k:]) - np.mean(gold[:k])),
            "log_reward_gain": float(np.mean(own[-k:]) - np.mean(own[:k]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, required=True, help="grpo_with_rewardlab.py's workdir (data parts, gold model)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--candidates", default=DEFAULT_CANDIDATES, help="name:embedder:loss,... (default %(default)s)")
    ap.add_argument("--policy", default="smollm2")
    ap.add_argument("--gold-embedder", default="e5")
    ap.add_argument("--sample-prompts", type=int, default=16)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-accuracy-gap", type=float, default=0.03)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--max-completion-length", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=3e-5)
    ap.add_argument("--prompts", type=int, default=64, help="training prompts (the held-out ones follow them)")
    ap.add_argument("--gain-window", type=int, default=4, help="steps averaged at each end for the gain (default 4)")
    args = ap.parse_args(argv)

    ex = example()
    args.out.mkdir(parents=True, exist_ok=True)
    files = ex.split_hh(args.workdir)
    gold_dir = args.workdir / f"gold-{args.gold_embedder}"
    ex.train_rm(files["gold"], gold_dir, args.gold_embedder, 3, 1)
    requests = ex.rl_prompts(files["prompts"], args.prompts)  # the teachers are measured where they will teach

    candidates = {}
    for item in args.candidates.split(","):
        name, embedder, loss = item.split(":")
        model_dir = args.workdir / f"cand-{name}"
        ex.train_rm(files["reward"], model_dir, embedder, 5, 0, "--loss", loss)
        candidates[name] = {"dir": str(model_dir), "accuracy": ex.accuracy(model_dir, files["prompts"])["accuracy"]}
    tokenizer, policy = ex.load_policy(args.policy)  # the initial policy: what the teachers first see
    completions = ex.sample(policy, tokenizer, requests[:args.sample_prompts], args.samples, args.max_completion_length, seed=0)
    chat = bool(getattr(tokenizer, "chat_template", None))
    del policy
    for name, c in candidates.items():
        c.update(within_share(ex, Path(c["dir"]), requests[:args.sample_prompts], completions, chat))
    print(f"{'candidate':<16}{'accuracy':>10}{'within var':>12}{'share':>8}")
    for name, c in candidates.items():
        print(f"{name:<16}{c['accuracy']:>10.3f}{c['within_variance']:>12.4f}{c['within_share']:>8.3f}")

    pairs = [(a, b) for a, b in itertools.combinations(candidates, 2)
             if abs(candidates[a]["accuracy"] - candidates[b]["accuracy"]) <= args.max_accuracy_gap]
    if not pairs:
        raise SystemExit(f"no two candidates within {args.max_accuracy_gap} accuracy of each other")
    a, b = max(pairs, key=lambda p: max(candidates[p[0]]["within_share"], candidates[p[1]]["within_share"])
               / min(candidates[p[0]]["within_share"], candidates[p[1]]["within_share"]))
    high, low = sorted((a, b), key=lambda n: -candidates[n]["within_share"])
    print(f"high-variance teacher: {high}, low-variance teacher: {low}")

    seeds = [int(s) for s in args.seeds.split(",")]
    runs: dict[str, list[dict]] = {high: [], low: []}
    for seed in seeds:
        for name in (high, low):
            run = args.out / f"{name}-seed{seed}"
            if not (run / "summary.json").exists():
                cmd = [sys.executable, str(HERE / "grpo_with_rewardlab.py"), "--out", str(run), "--workdir", str(args.workdir),
                       "--policy", args.policy, "--reward-model", candidates[name]["dir"], "--gold-model", str(gold_dir),
                       "--steps", str(args.steps), "--prompts", str(args.prompts), "--seed", str(seed),
                       "--max-completion-length", str(args.max_completion_length), "--learning-rate", str(args.learning_rate),
                       "--scale-rewards", "batch"]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            runs[name].append({"seed": seed, **gold_gain(run, args.gain_window)})
            print(f"{name} seed {seed}: gold gain {runs[name][-1]['gold_gain']:+.4f}, own reward gain {runs[name][-1]['reward_gain']:+.4f}")

    diff = [h["gold_gain"] - lo["gold_gain"] for h, lo in zip(runs[high], runs[low])]
    result = {
        "candidates": candidates, "high": high, "low": low, "seeds": seeds, "steps": args.steps,
        "runs": runs,
        "gold_gain": {n: {"mean": float(np.mean([r["gold_gain"] for r in runs[n]])),
                          "min": float(np.min([r["gold_gain"] for r in runs[n]])),
                          "max": float(np.max([r["gold_gain"] for r in runs[n]]))} for n in runs},
        "high_minus_low": {"per_seed": diff, "mean": float(np.mean(diff)), "ci95": ex.t_interval(diff)},
    }
    (args.out / "razin.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    g = result["gold_gain"]
    print(f"gold gain over {args.steps} steps: {high} {g[high]['mean']:+.4f} [{g[high]['min']:+.4f}, {g[high]['max']:+.4f}], "
          f"{low} {g[low]['mean']:+.4f} [{g[low]['min']:+.4f}, {g[low]['max']:+.4f}]; high - low "
          f"{result['high_minus_low']['mean']:+.4f}, 95% CI {result['high_minus_low']['ci95']} over {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
