"""RM-Bench's easy / normal / hard accuracies, checked against a transcription of the
benchmark's own loop (acc_matrix over results, ties wrong), and `rewardlab eval` on an RM-Bench
file in both of its layouts."""

import json

import numpy as np
import pytest

from rewardlab.cli import main
from rewardlab.data.pairs import dialogue_text
from rewardlab.data.rm_bench import load_rm_bench
from rewardlab.models import RewardModel
from rewardlab.models.rm_bench import per_prompt, rm_bench_report


def reference(chosen, rejected):
    """RM-Bench's compute_accuracy, as its code does it: a 3 x 3 matrix of strict wins summed
    over prompts and divided by their number, then the triangles and the diagonal."""
    acc = np.zeros((3, 3))
    for c, r in zip(chosen, rejected):
        for i in range(3):
            for j in range(3):
                if c[i] > r[j]:
                    acc[i][j] += 1
    acc /= len(chosen)
    return {"hard": np.sum(np.triu(acc, 1)) / 3, "normal": np.mean(np.diag(acc)), "easy": np.sum(np.tril(acc, -1)) / 3}


def test_the_accuracies_equal_the_benchmarks_own_loop_ties_wrong():
    g = np.random.default_rng(1)
    chosen = g.integers(0, 4, size=(200, 3)).astype(float)  # small integers: many ties
    rejected = g.integers(0, 4, size=(200, 3)).astype(float)
    ours, want = per_prompt(chosen, rejected), reference(chosen, rejected)
    for k in ("easy", "normal", "hard"):
        assert ours[k].mean() == pytest.approx(want[k])
    assert ours["average"].mean() == pytest.approx(np.mean(list(want.values())))


def test_a_style_biased_scorer_is_easy_right_and_hard_wrong():
    # scores = style only (index), a better chosen response by a hair
    chosen = np.tile([0.1, 1.1, 2.1], (10, 1))
    rejected = np.tile([0.0, 1.0, 2.0], (10, 1))
    out = rm_bench_report(chosen, rejected, ["chat"] * 10)
    assert out["all"]["easy"]["accuracy"] == 1 and out["all"]["normal"]["accuracy"] == 1
    assert out["all"]["hard"]["accuracy"] == 0  # the more styled rejected response wins every time


def row(i, domain):
    base = f"question {i} about the sea"
    return {"id": f"r{i}", "prompt": base, "domain": domain,
            "chosen": [f"yes {i}", f"yes {i} because the sea is salty", f"**yes** {i}\n- because the sea is salty"],
            "rejected": [f"no {i}", f"no {i} because the sea is sweet", f"**no** {i}\n- because the sea is sweet"]}


@pytest.mark.parametrize("layout", ["json-array", "json-lines"])
def test_eval_reads_an_rm_bench_file_and_reports_its_metrics_and_baselines(layout, hh_file, tmp_path, capsys):
    rows = [row(i, "chat" if i % 2 else "safety") for i in range(12)]
    data = tmp_path / "rmb.json"
    data.write_text(json.dumps(rows, indent=1) if layout == "json-array" else "\n".join(map(json.dumps, rows)))
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embedder", "hash", "--members", "2",
                 "--epochs", "2", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data), "--json", "--quiet", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out)
    items, _ = load_rm_bench(data)
    model = RewardModel.load(tmp_path / "m")
    texts = [dialogue_text(it.prompt, r) for it in items for r in (*it.chosen, *it.rejected)]
    s = model.score_texts(texts, cache_dir=False, progress=False).mean(0).reshape(-1, 2, 3)
    want = reference(s[:, 0], s[:, 1])
    assert out["benchmark"] == "rm-bench" and out["prompts"] == 12 and set(out["domains"]) == {"chat", "safety"}
    for k in ("easy", "normal", "hard"):
        assert out["all"][k]["accuracy"] == pytest.approx(want[k], abs=1e-6)
    # the longer response: the chosen ones are one word longer except in the concise column
    assert out["baselines"]["longer"]["all"]["normal"]["accuracy"] == pytest.approx(0.0)  # equal lengths: ties, wrong
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data), "--no-cache"]) == 0
    text = capsys.readouterr().err
    assert "RM-Bench, 12 prompts" in text and "longer response wins" in text and "model minus 'shorter wins'" in text


def test_malformed_rm_bench_rows_are_skipped_and_reported(tmp_path):
    rows = [row(0, "chat"), {**row(1, "chat"), "rejected": ["only", "two"]}, {**row(2, "chat"), "prompt": ""}]
    data = tmp_path / "rmb.jsonl"
    data.write_text("\n".join(map(json.dumps, rows)) + "\nnot json\n")
    items, report = load_rm_bench(data)
    assert len(items) == 1 and report.n_skipped == 3


def test_judgebench_rows_are_pairs_with_the_labelled_response_chosen(tmp_path):
    rows = [{"pair_id": "1", "source": "math", "question": "2+2?", "response_A": "4", "response_B": "5", "label": "A>B"},
            {"pair_id": "2", "source": "math", "question": "3+3?", "response_A": "7", "response_B": "6", "label": "B>A"},
            {"pair_id": "3", "source": "math", "question": "1+1?", "response_A": "2", "response_B": "2.0", "label": "A=B"}]
    data = tmp_path / "jb.jsonl"
    data.write_text("\n".join(map(json.dumps, rows)))
    from rewardlab.data import load_pairs

    pairs, report = load_pairs(data)
    assert report.format == "judgebench" and [(p.chosen, p.rejected) for p in pairs] == [("4", "5"), ("6", "7")]
    assert report.skipped == {"label is not A>B or B>A": 1}
