"""examples/grpo_with_rewardlab.py for 2 steps with tiny settings: TRL's GRPOTrainer on a tiny
random policy, rewarded through a real `rewardlab serve` (and its proxy gold in-process). Only the
--serve run is in CI: it goes through every line the in-process run does but one, and that one,
the in-process reward inside GRPOTrainer, is tests/integrations/test_trl.py's; 19 s of CI saved."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from rewardlab.data.pairs import dialogue_text  # noqa: E402
from rewardlab.models import RewardModel  # noqa: E402
from tiny_models import tiny_policy  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grpo_with_rewardlab.py"


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return tiny_policy(tmp_path_factory.mktemp("grpo-policy") / "policy")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("grpo-work")  # data parts and reward models, shared by both runs


@pytest.mark.parametrize("serve", [True], ids=["serve"])
def test_two_grpo_steps_on_rewardlab_rewards(policy, workdir, tmp_path, serve):
    out, after = tmp_path / "run", tmp_path / "after"
    cmd = [sys.executable, str(EXAMPLE), "--out", str(out), "--workdir", str(workdir), "--policy", policy,
           "--embedder", "hash", "--gold-embedder", "hash", "--members", "2", "--prompts", "4", "--eval-prompts", "2", "--eval-samples", "2", "--steps", "2",
           "--prompts-per-step", "2", "--num-generations", "2", "--max-completion-length", "8",
           "--learning-rate", "1e-2", "--save-policy", str(after), *(["--serve"] if serve else [])]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["serve"] is serve
    evaluation = json.loads((out / "evaluation.json").read_text())
    for fn, name in (("reward", "reward_gain"), ("gold", "gold_gain")):  # the paired gain is after - before, per prompt
        want = np.mean(np.array(evaluation["after"][fn]) - np.array(evaluation["before"][fn]))
        assert abs(summary[name]["gain"] - want) < 1e-9 and summary[name]["ci95"][0] <= want <= summary[name]["ci95"][1]

    # every reward TRL trained on is what the rewardlab model gives the same text, recomputed here
    rows = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"rewards/rewardlab/mean"' in line]
    assert len(log) == 2
    for fn, model_dir in (("rewardlab", summary["reward_model"]), ("gold", summary["gold_model"])):
        mine = [r for r in rows if r["fn"] == fn]
        assert len(mine) == 2 * 4  # 2 steps x 2 prompts x 2 generations
        members = RewardModel.load(model_dir).score_texts(
            [dialogue_text(r["prompt"], r["completion"]) for r in mine], progress=False)
        np.testing.assert_allclose([r["reward"] for r in mine], members.mean(axis=0), atol=1e-5)
        for step, row in zip((0, 1), log):  # TRL's logged mean is the mean of what rewardlab returned
            want = np.mean([r["reward"] for r in mine if r["batch"] == step])
            assert abs(row[f"rewards/{fn}/mean"] - want) < 1e-4
        assert all(np.isfinite(row[f"{fn}/group_variance"]) for row in log)

    # the policy moved, measured against the file it started from
    from transformers import AutoModelForCausalLM

    a = dict(AutoModelForCausalLM.from_pretrained(policy).named_parameters())
    b = dict(AutoModelForCausalLM.from_pretrained(after).named_parameters())
    assert any(not torch.equal(a[k], b[k]) for k in a)
