"""GRPO on a real policy with a rewardlab reward model: TRL's ``GRPOTrainer`` trains
SmolLM2-135M-Instruct on HH-RLHF prompts, rewarded by a rewardlab embedding ensemble, and watched
by a second reward model it never trains on (the proxy gold).

    python examples/grpo_with_rewardlab.py --out grpo-run                  # in-process reward
    python examples/grpo_with_rewardlab.py --out grpo-run --serve          # through `rewardlab serve`

The bundled HH-RLHF harmless file is cut by prompt (a keyed hash, so no prompt is in two parts)
into three disjoint parts: the prompts the policy trains on, the pairs of the reward model it is
trained against (``--embedder``, default MiniLM) and the pairs of the proxy-gold model
(``--gold-embedder``, default e5). The gold model is a reward function with weight 0: TRL computes
and logs it every step, and it does not touch the advantages.

Writes to ``--out``: ``log.jsonl`` (TRL's log row of each step: mean reward, the ensemble's member
std, the within-group reward variance, the gold reward, loss, KL...), ``completions.jsonl`` (every
completion with the rewards it got) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

RL_SALT = "grpo-example"  # the hash that cuts the HH file into RL prompts / policy RM / gold RM parts
PARTS = (("prompts", 0.2), ("reward", 0.6), ("gold", 1.0))


def part_of(group: str) -> str:
    from rewardlab.data.splits import unit_hash

    u = unit_hash(group, RL_SALT)
    return next(name for name, upper in PARTS if u < upper)


def split_hh(workdir: Path) -> dict[str, Path]:
    """Writes the HH file's rows into one file per part; returns the files."""
    from rewardlab import datasets
    from rewardlab.data import load_pairs

    source = datasets.path(datasets.HH)
    pairs, _ = load_pairs(source)
    part_of_line = {p.line: part_of(p.group) for p in pairs}
    workdir.mkdir(parents=True, exist_ok=True)
    files = {name: workdir / f"hh-{name}.jsonl" for name, _ in PARTS}
    handles = {name: open(path, "w", encoding="utf-8") for name, path in files.items()}
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if line_no in part_of_line:
                handles[part_of_line[line_no]].write(line)
    for h in handles.values():
        h.close()
    return files


def rl_prompts(prompt_file: Path, n: int) -> list[str]:
    """``n`` single-turn human requests of at most 240 characters, in a fixed order."""
    from rewardlab.data import load_pairs
    from rewardlab.data.pairs import ASSISTANT_TAG, HUMAN_TAG
    from rewardlab.data.splits import unit_hash

    seen: dict[str, None] = {}
    for pair in load_pairs(prompt_file)[0]:
        text = pair.prompt.strip()
        if text.count(HUMAN_TAG.strip()) == 1 and text.endswith(ASSISTANT_TAG.strip()):
            request = text[len(HUMAN_TAG.strip()):-len(ASSISTANT_TAG.strip())].strip()
            if 0 < len(request) <= 240:
                seen.setdefault(request)
    requests = sorted(seen, key=lambda r: unit_hash(r, RL_SALT))
    if len(requests) < n:
        raise SystemExit(f"--prompts (with --eval-prompts): only {len(requests)} single-turn prompts in the RL part, asked for {n} in all")
    return requests[:n]


def train_rm(data: Path, out: Path, embedder: str, members: int, seed: int, *extra: str) -> None:
    """A rewardlab ensemble on ``data`` (skipped when ``out`` holds one); ``extra``: more
    ``rewardlab train`` flags."""
    from rewardlab.cli import main

    if not (out / "rewardlab_model.json").exists():
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["train", "--data", str(data), "--out", str(out), "--embedder", embedder, "--members",
                         str(members), "--seed", str(seed), "--quiet", "--json", *extra])
        if code != 0:
            raise SystemExit(f"training the reward model in {out} failed")


def accuracy(model_dir: Path, data: Path) -> dict:
    """``rewardlab eval``'s pairwise accuracy of a model on every pair of ``data``."""
    from rewardlab.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["eval", "--model", str(model_dir), "--data", str(data), "--split", "all", "--quiet", "--json"])
    if code != 0:
        raise SystemExit(f"evaluating {model_dir} failed")
    return json.loads(buf.getvalue())


class Recorder:
    """Passes TRL's call through and appends every completion and its reward to a file; ``batch``
    counts the calls (one per generation batch, which is one optimiser step here)."""

    def __init__(self, inner, path: Path) -> None:
        self.inner, self.__name__, self.path, self.calls = inner, inner.__name__, path, 0

    def __call__(self, prompts, completions, **kwargs):
        out = self.inner(prompts, completions, **kwargs)
        with open(self.path, "a", encoding="utf-8") as fh:
            for p, c, r in zip(prompts, completions, out):
                fh.write(json.dumps({"batch": self.calls, "fn": self.__name__, "prompt": p, "completion": c, "reward": r}) + "\n")
        self.calls += 1
        return out


def start_server(model_dir: Path, aggregate: str, lam: float) -> tuple[subprocess.Popen, str]:
    """``rewardlab serve`` for the policy's reward model on a free loopback port."""
    cmd = [sys.executable, "-m", "rewardlab.cli", "serve", "--model", str(model_dir), "--port", "0", "--json",
           "--quiet", "--aggregate", aggregate, "--lam", str(lam)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(300)
    if not line or not line[0]:
        proc.kill()
        raise SystemExit("rewardlab serve did not start")
    return proc, json.loads(line[0])["url"]


def as_prompt(request: str, chat: bool):
    """A request as TRL gets it: a one-message conversation when the policy has a chat template."""
    return [{"role": "user", "content": request}] if chat else f"\n\nHuman: {request}\n\nAssistant:"


def sample(policy, tokenizer, requests: list[str], n: int, max_new_tokens: int, seed: int) -> list[list[str]]:
    """``n`` completions per request, sampled as TRL samples (temperature 1, no top-k/top-p), all
    requests in one left-padded batch: CPU decoding is bound by reading the weights once per
    token, so 128 rows cost little more than 4."""
    import torch

    chat = bool(getattr(tokenizer, "chat_template", None))
    texts = [tokenizer.apply_chat_template(as_prompt(r, chat), tokenize=False, add_generation_prompt=True) if chat
             else as_prompt(r, chat) for r in requests]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    ids = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(policy.device)
    tokenizer.padding_side = side
    torch.manual_seed(seed)
    was_training = policy.training
    policy.eval()
    with torch.no_grad():
        gen = policy.generate(**ids, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                              num_return_sequences=n, pad_token_id=tokenizer.pad_token_id)
    policy.train(was_training)
    flat = tokenizer.batch_decode(gen[:, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    return [flat[i * n:(i + 1) * n] for i in range(len(requests))]


def prompt_means(reward_fn, requests: list[str], completions: list[list[str]], chat: bool) -> list[float]:
    """Per request: the mean reward of its completions."""
    return [float(sum(reward_fn([as_prompt(r, chat)] * len(cs), cs)) / len(cs)) for r, cs in zip(requests, completions)]


def text_stats(completions: list[list[str]]) -> dict:
    """What reading the samples shows, in numbers: the share that apologise (HH-RLHF harmless's
    preferred move, which a policy can overuse), distinct word bigrams / all (repetition), length."""
    import re

    flat = [c for group in completions for c in group]
    words = [w for c in flat for w in c.lower().split()]
    bigrams = list(zip(words, words[1:]))
    return {"apologise_share": sum(bool(re.search(r"sorry|apolog", c, re.I)) for c in flat) / max(len(flat), 1),
            "distinct_2": len(set(bigrams)) / max(len(bigrams), 1), "mean_words": len(words) / max(len(flat), 1)}


def t_interval(values) -> list[float]:
    """95% t interval of the mean (n >= 2): the units here are few (prompts, seeds)."""
    import numpy as np
    from scipy import stats

    a = np.asarray(values, float)
    half = float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))
    return [float(a.mean()) - half, float(a.mean()) + half]


def paired_gain(before: list[float], after: list[float]) -> dict:
    """Mean over prompts of after - before, with its 95% t interval (prompts are the unit)."""
    import numpy as np

    d = np.asarray(after) - np.asarray(before)
    return {"before": float(np.mean(before)), "after": float(np.mean(after)), "gain": float(d.mean()),
            "ci95": t_interval(d)}


def load_policy(spec: str):
    from rewardlab.lm import load_causal_lm

    # float32 on the CPU as loaded; TRL (accelerate) moves the policy to the accelerator it uses
    tokenizer, model = load_causal_lm(spec, device="cpu", dtype="float32")
    model.train()
    return tokenizer, model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for the logs (and --workdir's default)")
    ap.add_argument("--workdir", type=Path, help="where the data parts and reward models go (default: OUT/work); reused")
    ap.add_argument("--policy", default="smollm2", help="smollm2 or a causal-LM folder (default smollm2)")
    ap.add_argument("--reward-model", type=Path, help="a trained rewardlab model (default: train one on the reward part)")
    ap.add_argument("--gold-model", type=Path, help="the proxy-gold model (default: train one on the gold part)")
    ap.add_argument("--embedder", default="minilm", help="embedder of the trained reward model (default minilm)")
    ap.add_argument("--gold-embedder", default="e5", help="embedder of the proxy-gold model (default e5)")
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--aggregate", default="mean", help="mean, min, median or uwo")
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--serve", action="store_true", help="score through a `rewardlab serve` started here")
    ap.add_argument("--prompts", type=int, default=64, help="RL training prompts (default 64)")
    ap.add_argument("--eval-prompts", type=int, default=32,
                    help="held-out prompts sampled before and after training (default 32; 0: no evaluation)")
    ap.add_argument("--eval-samples", type=int, default=4, help="completions per held-out prompt (default 4)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--num-generations", type=int, default=4)
    ap.add_argument("--max-completion-length", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=3e-5, help="constant (default 3e-5)")
    ap.add_argument("--beta", type=float, default=0.0, help="KL coefficient (TRL's default 0: no reference model)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--scale-rewards", default="group", choices=["group", "batch", "none"],
                    help="TRL's advantage scaling: by each group's std (default), the batch's std, or none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-policy", type=Path, help="save the trained policy here")
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renames, inside TRL
    import datasets
    import torch
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewardlab.integrations.trl import remote_reward_function, reward_function

    args.out.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir or args.out / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    files = split_hh(workdir)
    rm_dir = args.reward_model or workdir / f"rm-{args.embedder}"
    gold_dir = args.gold_model or workdir / f"gold-{args.gold_embedder}"
    if not args.reward_model:
        train_rm(files["reward"], rm_dir, args.embedder, args.members, seed=0)
    if not args.gold_model:
        train_rm(files["gold"], gold_dir, args.gold_embedder, 3, seed=1)
    # the RL part's pairs: neither model trained on them
    held_out = {"reward": accuracy(rm_dir, files["prompts"]), "gold": accuracy(gold_dir, files["prompts"])}

    everything = rl_prompts(files["prompts"], args.prompts + args.eval_prompts)
    requests, held_out_requests = everything[:args.prompts], everything[args.prompts:]
    tokenizer, policy = load_policy(args.policy)
    chat = bool(getattr(tokenizer, "chat_template", None))
    rows = [as_prompt(r, chat) for r in requests]

    for name in ("log.jsonl", "completions.jsonl"):
        (args.out / name).unlink(missing_ok=True)
    server = None
    if args.serve:
        server, url = start_server(rm_dir, args.aggregate, args.lam)
        reward = remote_reward_function(url, name="rewardlab")
    else:
        reward = reward_function(rm_dir, aggregate=args.aggregate, lam=args.lam, name="rewardlab")
    gold = reward_function(gold_dir, name="gold")
    own_in_process = reward if not args.serve else reward_function(rm_dir, aggregate=args.aggregate, lam=args.lam)
    evaluation: dict = {}
    if held_out_requests:  # the same prompts and sampling seed before and after: a paired comparison
        before = sample(policy, tokenizer, held_out_requests, args.eval_samples, args.max_completion_length, seed=1234)
        evaluation["before"] = {"completions": before, "reward": prompt_means(own_in_process, held_out_requests, before, chat),
                                "gold": prompt_means(gold, held_out_requests, before, chat)}
    funcs = [Recorder(reward, args.out / "completions.jsonl"), Recorder(gold, args.out / "completions.jsonl")]

    class WriteLog(TrainerCallback):
        def on_log(self, _args, trainer_state, control, logs=None, **kwargs):
            with open(args.out / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": trainer_state.global_step, "time": time.time(), **(logs or {})}) + "\n")

    config = GRPOConfig(
        output_dir=str(workdir / "trainer"), per_device_train_batch_size=args.prompts_per_step * args.num_generations,
        num_generations=args.num_generations, max_completion_length=args.max_completion_length, max_steps=args.steps,
        learning_rate=args.learning_rate, lr_scheduler_type="constant", beta=args.beta,
        scale_rewards=args.scale_rewards, temperature=args.temperature, logging_steps=1, report_to=[],
        use_cpu=True, seed=args.seed, save_strategy="no", reward_weights=[1.0, 0.0], disable_tqdm=True,
        # TRL defaults both to True; on a CPU without bf16 units, bf16 autocast made a step several times slower,
        # and a 135M model's activations fit in memory without checkpointing
        bf16=False, gradient_checkpointing=False,
    )
    trainer = GRPOTrainer(model=policy, processing_class=tokenizer, reward_funcs=funcs, args=config,
                          train_dataset=datasets.Dataset.from_dict({"prompt": rows}), callbacks=[WriteLog()])
    initial = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    started = time.time()
    try:
        trainer.train()
    finally:
        if server is not None:
            server.terminate()
            server.wait(60)
    if held_out_requests:
        after = sample(trainer.model, tokenizer, held_out_requests, args.eval_samples, args.max_completion_length, seed=1234)
        evaluation["after"] = {"completions": after, "reward": prompt_means(own_in_process, held_out_requests, after, chat),
                               "gold": prompt_means(gold, held_out_requests, after, chat)}
        evaluation["prompts"] = held_out_requests
        (args.out / "evaluation.json").write_text(json.dumps(evaluation, indent=1) + "\n", encoding="utf-8")
    change = sum(float((v.detach() - initial[k]).pow(2).sum()) for k, v in trainer.model.named_parameters()) ** 0.5
    if args.save_policy:
        trainer.model.save_pretrained(args.save_policy)
        tokenizer.save_pretrained(args.save_policy)
    summary = {
        "policy": args.policy, "reward_model": str(rm_dir), "gold_model": str(gold_dir), "serve": args.serve,
        "held_out_accuracy": held_out,
        "held_out_prompts": len(held_out_requests),
        "reward_gain": paired_gain(evaluation["before"]["reward"], evaluation["after"]["reward"]) if held_out_requests else None,
        "gold_gain": paired_gain(evaluation["before"]["gold"], evaluation["after"]["gold"]) if held_out_requests else None,
        "samples": {k: text_stats(evaluation[k]["completions"]) for k in ("before", "after")} if held_out_requests else None,
        "prompts": len(requests), "steps": trainer.state.global_step, "seed": args.seed, "aggregate": args.aggregate,
        "scale_rewards": args.scale_rewards, "learning_rate": args.learning_rate,
        "seconds": round(time.time() - started, 1), "weight_change_l2": change, "torch_threads": torch.get_num_threads(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
