"""rewardlab's reward file loaded and called by OpenRLHF's own executor."""

import asyncio
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("openrlhf")
pytest.importorskip("aiohttp")

import rewardlab.integrations.openrlhf as reward_file  # noqa: E402

SCRIPT = """
import asyncio, json, sys
from openrlhf.utils.agent import SingleTurnAgentExecutor
executor = SingleTurnAgentExecutor(remote_rm_url=sys.argv[1])   # loads the .py file, as OpenRLHF does
queries, prompts = json.loads(sys.argv[2]), json.loads(sys.argv[3])
async def rollouts():  # one sample per call, concurrently, as the rollout loop calls it
    return await asyncio.gather(*(executor._fetch_rewards_via_func([q], [p], [None]) for q, p in zip(queries, prompts)))
print(json.dumps(asyncio.run(rollouts())))
"""


def test_openrlhf_loads_the_file_and_gets_what_rewardlab_score_writes(model_dir, offline, tmp_path):
    pairs, rows = offline
    pairs, rows = pairs[:12], rows[:12]
    queries = [p.prompt + p.chosen for p in pairs]
    prompts = [p.prompt for p in pairs]
    env = {**os.environ, "REWARDLAB_MODEL": str(model_dir)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, reward_file.__file__, json.dumps(queries), json.dumps(prompts)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    answers = json.loads(out.stdout.strip().splitlines()[-1])
    rewards = [a[0]["rewards"][0] for a in answers]
    np.testing.assert_allclose(rewards, [r["chosen_score"] for r in rows], atol=1e-5)
    np.testing.assert_allclose([a[0]["extra_logs"]["reward_std"][0] for a in answers], [r["chosen_std"] for r in rows], atol=1e-5)
    assert all(a[0]["scores"] == a[0]["rewards"] for a in answers)


def test_a_missing_model_or_a_bad_query_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("REWARDLAB_MODEL", raising=False)
    with pytest.raises(ValueError, match="REWARDLAB_MODEL"):
        reward_file.reward_func(["ab"], ["a"], [None])


def test_a_query_that_does_not_start_with_its_prompt_names_it(model_dir, monkeypatch):
    monkeypatch.setenv("REWARDLAB_MODEL", str(model_dir))
    with pytest.raises(ValueError, match=r"query\[1\]"):
        reward_file.reward_func(["ab", "cd"], ["a", "x"], [None, None])
    answer = reward_file.reward_func(["Hi there", "Hi"], ["Hi", "Hi"], [None, None])
    assert len(answer["rewards"]) == 2 and all(np.isfinite(answer["rewards"]))
