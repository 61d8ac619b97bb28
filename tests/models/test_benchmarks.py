"""The benchmark formats `rewardlab eval` reads: RM-Bench's easy / normal / hard accuracies and
RewardBench's section scores, each checked against a transcription of the benchmark's own code
(ties wrong in both), and JudgeBench rows as pairs."""

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


def reward_bench_reference(correct_by_subset):
    """rewardbench's calculate_scores_per_section on per-subset accuracies, then the mean of the
    sections (the leaderboard's score)."""
    from rewardlab.models.reward_bench import EXAMPLE_COUNTS, SECTIONS

    metrics = {s: np.mean(v) for s, v in correct_by_subset.items()}
    sections = {}
    for section, tests in SECTIONS.items():
        total, n = 0.0, 0
        for t in tests:
            if t in metrics:
                total += metrics[t] * EXAMPLE_COUNTS[t]
                n += EXAMPLE_COUNTS[t]
        if n:
            sections[section] = total / n
    return sections, np.mean(list(sections.values()))


def test_reward_bench_sections_equal_the_benchmarks_weighting():
    from rewardlab.models.reward_bench import reward_bench_report

    g = np.random.default_rng(3)
    subsets = ["alpacaeval-easy"] * 30 + ["mt-bench-hard"] * 12 + ["math-prm"] * 40 + ["hep-go"] * 25 + ["donotanswer"] * 9 + ["mine"] * 5
    right = (g.random(len(subsets)) < 0.7).astype(float)
    out = reward_bench_report(right, subsets)
    by_subset = {}
    for s, x in zip(subsets, right):
        by_subset.setdefault(s, []).append(x)
    sections, score = reward_bench_reference({k: v for k, v in by_subset.items() if k != "mine"})
    for name, value in sections.items():
        assert out["sections"][name]["score"] == pytest.approx(value)
    assert out["sections"]["score"]["score"] == pytest.approx(score)
    assert out["unscored_subsets"] == ["mine"] and out["subsets"]["mine"]["section"] is None


def test_eval_reads_a_reward_bench_file(hh_file, tmp_path, capsys):
    rows = [{"id": i, "prompt": f"Is {i} even?", "chosen": "Yes, it is even." if i % 2 == 0 else "No, it is odd.",
             "rejected": "No." if i % 2 == 0 else "Yes, it is even, surely.", "subset": sub}
            for i, sub in enumerate(["alpacaeval-easy", "refusals-dangerous", "math-prm", "hep-go"] * 5)]
    data = tmp_path / "rb.jsonl"
    data.write_text("\n".join(map(json.dumps, rows)))
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embedder", "hash", "--members", "2",
                 "--epochs", "2", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data), "--json", "--quiet", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"] == "reward-bench" and set(out["sections"]) == {"Chat", "Safety", "Reasoning", "score"}
    model = RewardModel.load(tmp_path / "m")
    s = model.score_texts([dialogue_text(r["prompt"], t) for r in rows for t in (r["chosen"], r["rejected"])],
                          cache_dir=False, progress=False).mean(0)
    right = (s[0::2] > s[1::2]).astype(float)
    by_subset = {}
    for r, x in zip(rows, right):
        by_subset.setdefault(r["subset"], []).append(x)
    _, score = reward_bench_reference(by_subset)
    assert out["sections"]["score"]["score"] == pytest.approx(score)
    # longer wins: the chosen reply is longer in even rows only
    assert out["baselines"]["longer"]["sections"]["Chat"]["score"] == pytest.approx(1.0)
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data), "--no-cache"]) == 0
    assert "RewardBench, 20 pairs" in capsys.readouterr().err


def test_telling_the_layouts_apart_reads_parquet_too(hh_file, tmp_path, capsys):
    # eval looks at the first row to pick a benchmark's path; a parquet preference file must
    # still reach the pairs path (reading it as text had made eval refuse every parquet file)
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [json.loads(line) for line in open(hh_file, encoding="utf-8")][:40]
    data = tmp_path / "hh.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    assert main(["train", "--data", str(hh_file), "--out", str(tmp_path / "m"), "--embedder", "hash", "--members", "2",
                 "--epochs", "2", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data), "--split", "all", "--json", "--quiet",
                 "--no-cache"]) == 0
    from rewardlab.data import load_pairs

    assert json.loads(capsys.readouterr().out)["n_pairs"] == len(load_pairs(data)[0]) > 30
