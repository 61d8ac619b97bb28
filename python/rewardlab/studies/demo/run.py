"""``rewardlab demo``: the main job on the bundled data.

Trains a K-member embedding ensemble on the HH-RLHF harmless and OASST pairs (train split by
prompt, early stopping on dev), evaluates it on the held-out test prompts per member and per
aggregation rule, beside the same ensemble on a lexical hashing baseline, checks whether ensemble
disagreement and margin predict correctness; then, on the first ``bon_prompts`` prompts of
reward-bench-bon, compares Stackelberg-shaped with raw soft best-of-N and ranks the models as
teachers (accuracy and reward variance), runs the tabular optimisation experiment, and on the first
``judge_pairs`` test pairs compares fast, slow and gated judges (SmolLM2 and the ensemble), and on
the first ``credit_problems`` GSM8K problems with mixed outcomes draws RREDCoT's credit maps of
correct and wrong solutions. Writes ``report.html`` + ``report.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from rewardlab._utils.console import say
from rewardlab.datasets import HH, OASST
from rewardlab._utils.provenance import provenance


def find_data_dir() -> Path:
    """``$REWARDLAB_DATA``, else the data shipped in the package (:mod:`rewardlab.datasets`)."""
    from rewardlab.datasets import data_dir, path

    path(HH)  # a clear error when $REWARDLAB_DATA points at a folder without it
    return data_dir()


def run_demo(
    out: Path, embedder: str = "minilm", members: int = 5, cache_dir=None, progress=None, as_json=False, bon_prompts: int = 200,
    judge_pairs: int = 48, credit_problems: int = 8, quick: bool = False,
) -> dict:
    """The main job (see the module docstring); ``quick`` runs it on a slice (a sixth of the
    prompts, 3 members, 20 best-of-N prompts, no LM sections): about a minute, a smoke test of
    an installation rather than a result."""
    from rewardlab.data import load_many, split_by_prompt
    from rewardlab.models.ensemble import aggregate
    from rewardlab.models.evaluate import ensemble_accuracy, pairwise_accuracy, wilson_interval
    from rewardlab.models import TrainConfig
    from rewardlab.models.pipeline import Timer, score_pairs, train_model

    started = time.perf_counter()
    data_dir = find_data_dir()
    files = [data_dir / HH, data_dir / OASST]
    pairs, reports = load_many(files)
    for r in reports:
        say(r.summary())
    if quick:
        from rewardlab.data.splits import unit_hash

        pairs = [p for p in pairs if unit_hash(p.group, "quick") < 1 / 6]
        members, bon_prompts, judge_pairs, credit_problems = min(members, 3), min(bon_prompts, 20), 0, 0
        say(f"--quick: {len(pairs)} pairs (a sixth of the prompts), {members} members, {bon_prompts} best-of-N prompts, no LM sections")
    split = split_by_prompt(pairs)
    say(f"split by prompt: {split.sizes()}")
    config = TrainConfig()
    results, timers, models = {}, {}, {}
    for name in dict.fromkeys([embedder, "hash"]):
        timer = Timer()
        model = train_model(split, [name], config, members, cache_dir, progress, timer,
                            {"data": [str(f) for f in files], "split": {"dev": 0.1, "test": 0.1, "salt": ""}})
        t = time.perf_counter()
        chosen, rejected = score_pairs(model, split.test, cache_dir, progress)
        timer.add("evaluate", t)
        results[name] = ensemble_accuracy(chosen, rejected)
        results[name]["scores"] = (chosen, rejected)
        timers[name], models[name] = timer.stages, model
        model.save(out / f"model-{name.replace(':', '_').replace('/', '_')}")
        say(f"{name}: embedded in {timer.stages['embed']:.1f} s, trained {members} members in {timer.stages['train']:.1f} s")

    main = results[embedder]
    chosen, rejected = main.pop("scores")
    for result in results.values():
        result.pop("scores", None)
    # Does the ensemble know when it is wrong? Accuracy by quartile of |margin| and of disagreement.
    mean_c, mean_r = aggregate(chosen, "mean"), aggregate(rejected, "mean")
    margin = mean_c.value - mean_r.value
    disagreement = np.sqrt(mean_c.std**2 + mean_r.std**2)
    correct = (margin > 0).astype(float) + 0.5 * (margin == 0)
    buckets, bucket_ci = {}, {}
    for label, key in (("|margin|", np.abs(margin)), ("disagreement", disagreement)):
        edges = np.quantile(key, [0.25, 0.5, 0.75])
        q = np.searchsorted(edges, key, side="right")
        hits = [correct[q == i] for i in range(4)]
        buckets[label] = [float(h.mean()) if len(h) else float("nan") for h in hits]
        bucket_ci[label] = [list(wilson_interval(float(h.sum()), len(h))) for h in hits]  # NaN for an empty one
    per_source = {}
    for tag, f in (("hh-rlhf", files[0]), ("oasst", files[1])):
        sel = np.array([p.source == str(f) for p in split.test])
        if sel.any():
            per_source[tag] = pairwise_accuracy(mean_c.value[sel], mean_r.value[sel]).to_dict()

    # More than length? On the 10% test split the interval of that difference is ±0.08 wide;
    # cross-fitting scores every HH pair with an ensemble that never saw its prompt.
    from rewardlab.models.crossfit import cross_fit

    t = time.perf_counter()
    hh = [p for p in pairs if p.source == str(files[0])]
    length_check = cross_fit(hh, [embedder], config, members, folds=5, cache_dir=cache_dir, progress=progress).summary()
    timers[embedder]["cross_fit"] = time.perf_counter() - t

    alignment = None
    if bon_prompts > 0:
        from rewardlab.studies.demo.alignment import run_alignment

        t = time.perf_counter()
        alignment = run_alignment(models, data_dir, bon_prompts, cache_dir, progress, say)
        timers[embedder]["alignment"] = time.perf_counter() - t
    judging = None
    if judge_pairs > 0:
        from rewardlab.studies.demo.judge import run_judge

        t = time.perf_counter()
        judging = run_judge(models[embedder], split.test, judge_pairs, progress, say)
        timers[embedder]["judge"] = time.perf_counter() - t
    credit = None
    if credit_problems > 0:
        from rewardlab.studies.demo.credit import run_credit

        t = time.perf_counter()
        credit = run_credit(data_dir, credit_problems, progress, say)
        timers[embedder]["credit"] = time.perf_counter() - t
    total = time.perf_counter() - started
    summary = {
        "data": [r.to_dict() for r in reports],
        "split_sizes": split.sizes(),
        "embedder": embedder,
        "members": members,
        "train_config": config.to_dict(),
        "results": results,
        "per_source_mean_rule": per_source,
        "hh_cross_fit": length_check,
        "accuracy_by_quartile": buckets,
        "accuracy_by_quartile_ci95": bucket_ci,
        "seconds": {k: {s: round(v, 2) for s, v in t.items()} for k, t in timers.items()} | {"total": round(total, 2)},
        "provenance": provenance(files, {"train_seed": config.seed, "split_salt": "", "members": "seed + i",
                                          "bootstrap": config.bootstrap, "quick": quick}),
    }
    if alignment is not None:
        summary["alignment"] = alignment
    if judging is not None:
        summary["judge"] = judging
    if credit is not None:
        summary["credit"] = credit
    report = _report(summary, margin, disagreement, correct)
    html_path, json_path = report.write(out)
    if as_json:
        print(json.dumps(summary))
    else:
        _print_table(summary)
        if alignment is not None:
            from rewardlab.studies.demo.alignment import print_alignment

            print_alignment(alignment)
        if judging is not None:
            from rewardlab.studies.demo.judge import print_judge

            print_judge(judging)
        if credit is not None:
            from rewardlab.studies.demo.credit import print_credit

            print_credit(credit)
        say(f"report: {html_path} (and {json_path.name}); total {total:.1f} s")
    return summary


def _print_table(s: dict) -> None:
    from rewardlab.models.baselines import baseline_lines

    n = s["results"][s["embedder"]]["n_pairs"]
    say(f"\nheld-out pairwise accuracy on {n} test pairs (95% Wilson interval)")
    say(f"{'embedder':<10}{'rule':<18}{'accuracy':>9}{'95% CI':>18}")
    for name, r in s["results"].items():
        for rule, a in r["aggregations"].items():
            say(f"{name:<10}{rule:<18}{a['accuracy']:>9.3f}{'[%.3f, %.3f]' % tuple(a['ci95']):>18}")
        say(f"{name:<10}{'mean of members':<18}{r['mean_member_accuracy']:>9.3f}")
    for tag, a in s["per_source_mean_rule"].items():
        say(f"{s['embedder']} mean rule on {tag}: {a['accuracy']:.3f} over {a['n_pairs']} pairs")
    c = s["hh_cross_fit"]
    say(f"HH harmless, {c['folds']}-fold cross-fitted by prompt ({c['pairs']} pairs, each scored by an ensemble that never "
        f"saw its prompt): {s['embedder']} mean rule {c['accuracy']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]")
    for line in baseline_lines(c["length_baselines"]):  # console.say joins its arguments into one line
        say(line)
    b = s["accuracy_by_quartile"]
    say("accuracy by quartile of |margin| (low->high):", ", ".join(f"{x:.2f}" for x in b["|margin|"]))
    say("accuracy by quartile of disagreement (low->high):", ", ".join(f"{x:.2f}" for x in b["disagreement"]))


def _report(s: dict, margin, disagreement, correct):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardlab.studies.report import Report

    rep = Report("rewardlab demo: embedding reward-model ensembles on HH-RLHF harmless + OASST", data=s)
    rep.paragraph(
        f"Split by prompt: {', '.join(f'{k} {v}' for k, v in s['split_sizes'].items())} pairs. {s['members']} members per ensemble (seeds + bootstrap), "
        f"MLP head {tuple(s['train_config']['hidden'])}, {s['train_config']['loss']} loss, early stopping on dev. "
        f"Total time {s['seconds']['total']} s."
    )
    p = s["provenance"]
    rep.paragraph(
        f"rewardlab {p['rewardlab']}, commit {p['commit'] or 'unknown (not a git checkout)'}, run {p['date_utc']} on "
        f"{p['machine']['arch']} with {p['machine']['cpus']} CPUs; seeds: {', '.join(f'{k} {v!r}' for k, v in p['seeds'].items())}. Intervals: Wilson score "
        f"intervals (95%) for accuracies over pairs, unless a table says otherwise."
    )
    rep.table(["data file", "bytes", "sha256"], [[Path(d["path"]).name, d["bytes"], d["sha256"][:16] + "…"] for d in p["data"]])
    rep.heading("Held-out pairwise accuracy")
    rows = []
    for name, r in s["results"].items():
        for rule, a in r["aggregations"].items():
            rows.append([name, rule, a["accuracy"], f"[{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]"])
        for i, m in enumerate(r["members"]):
            rows.append([name, f"member {i}", m["accuracy"], f"[{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"])
    rep.table(["embedder", "rule", "accuracy", "95% CI"], rows)

    fig, ax = plt.subplots(figsize=(9, 4.2))
    x = 0
    ticks, labels = [], []
    for name, r in s["results"].items():
        entries = [(f"m{i}", m) for i, m in enumerate(r["members"])] + list(r["aggregations"].items())
        first = x
        for label, a in entries:
            lo, hi = a["ci95"]
            is_member = label[1:].isdigit()
            color = "#999" if is_member else "#1f77b4" if name == s["embedder"] else "#ff7f0e"
            ax.errorbar(x, a["accuracy"], yerr=[[a["accuracy"] - lo], [hi - a["accuracy"]]], fmt="o", color=color, capsize=3)
            ticks.append(x)
            labels.append(label)
            x += 1
        # the embedder's name once, centred under its group, below the rotated tick labels
        ax.annotate(name, ((first + x - 1) / 2, 0), xycoords=("data", "axes fraction"), xytext=(0, -52),
                    textcoords="offset points", ha="center", fontsize=9, weight="bold")
        x += 1
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xticks(ticks, labels, fontsize=8, rotation=45, ha="right")
    ax.set_ylabel("pairwise accuracy")
    rep.figure(fig, "Accuracy of each member (grey) and each aggregation rule, with 95% intervals; dotted line = chance.")

    from rewardlab.models.baselines import difference_verdict

    c = s["hh_cross_fit"]
    per_fold = ", ".join(f"{f['minus_shorter']:+.3f}" for f in c["per_fold"])
    rep.heading("More than length? HH-RLHF harmless, cross-fitted")
    rep.paragraph(
        f"HH harmless rewards short refusals, so \"the shorter response wins\" is a strong baseline. A held-out split as small "
        f"as the one above cannot tell the model from it: on 201 HH pairs the interval of the difference is about ±0.08 wide. Here {c['folds']} ensembles ({s['embedder']}, "
        f"{s['members']} members, as above), each trained without one fold of prompts, score all {c['pairs']} HH pairs, each "
        f"with the ensemble that never saw its prompt. Differences are paired, with intervals clustered by prompt; like every "
        f"cross-validation interval they treat the {c['folds']} ensembles as fixed. Per fold, model minus shorter: {per_fold}.")
    rows = [[f"the model ({s['embedder']}, mean rule)", c["accuracy"], f"[{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]", "", ""]]
    for name in ("longer", "shorter"):
        b = c["length_baselines"][name]
        lo, hi = b["difference_ci95"]
        rows.append([f"{name} response wins", b["accuracy"], f"[{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]",
                     f"{b['model_minus_baseline']:+.3f} [{lo:+.3f}, {hi:+.3f}]", difference_verdict(lo, hi)])
    rep.table(["scorer", "accuracy", "95% CI", "model minus it", "verdict"], rows)

    rep.heading("Does the ensemble know when it is wrong?")
    b, ci = s["accuracy_by_quartile"], s["accuracy_by_quartile_ci95"]
    rep.table(["quartile (low→high)", "Q1", "Q2", "Q3", "Q4"],
              [[k] + [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, (lo, hi) in zip(v, ci[k])] for k, v in b.items()])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, color, title in ((axes[0], "|margin|", "#1f77b4", "accuracy by |mean margin| quartile"),
                                  (axes[1], "disagreement", "#2ca02c", "accuracy by ensemble-disagreement quartile")):
        acc = np.array(b[key])
        lo, hi = np.array(ci[key]).T
        ax.bar(range(1, 5), acc, color=color, yerr=[acc - lo, hi - acc], capsize=4, ecolor="k")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(1, 5), ["Q1", "Q2", "Q3", "Q4"])
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_ylim(0, 1)
    rep.figure(fig, "Held-out accuracy per quartile of the ensemble's |margin| and of its disagreement, with 95% Wilson intervals. Where a signal is a usable confidence, accuracy rises (margin) or falls (disagreement) from left to right; the fast/slow gate builds on these.")

    if "alignment" in s:
        from rewardlab.studies.demo.alignment import add_alignment_sections

        add_alignment_sections(rep, s["alignment"])
    if "judge" in s:
        from rewardlab.studies.demo.judge import add_judge_section

        add_judge_section(rep, s["judge"])
    if "credit" in s:
        from rewardlab.studies.demo.credit import add_credit_section

        add_credit_section(rep, s["credit"])

    rep.heading("Time")
    rep.table(["embedder", "stage", "seconds"], [[k, st, v] for k, t in s["seconds"].items() if isinstance(t, dict) for st, v in t.items()])
    return rep
