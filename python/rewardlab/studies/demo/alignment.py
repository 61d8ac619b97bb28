"""The demo's alignment sections: shaped best-of-N and teacher diagnostics on reward-bench-bon
with the demo's models, and the tabular optimisation experiment behind the diagnostics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rewardlab._utils.console import say
from rewardlab.datasets import BON
GAINS = (0.1, 0.3, 0.5, 0.7)


def run_alignment(models: dict, data_dir: Path, prompts: int, cache_dir=None, progress=None, say=say) -> dict:
    """Results of the three sections (plain JSON-able dict); ``models`` maps name -> RewardModel."""
    from rewardlab.data.best_of_n import load_bon
    from rewardlab.models.pipeline import score_candidates
    from rewardlab.studies.best_of_n import bon_experiment
    from rewardlab.diagnostics import diagnose_bon

    bon = load_bon(data_dir / BON, limit=prompts)
    say(bon.report.summary())
    first = next(iter(models))
    scores = score_candidates(models[first], bon, cache_dir, progress)
    simulated = bon.gold / bon.gold.std() + np.random.default_rng(1).standard_normal(bon.gold.shape)
    betas, ns = (0.1, 0.3, 1.0), (4, 11)
    out = {
        "bon": {
            "prompts": len(bon.prompts),
            first: bon_experiment(scores, bon.gold, betas=betas, ns=ns),
            "simulated sigma=1": bon_experiment(simulated, bon.gold, betas=betas, ns=ns),
        },
        "teacher": diagnose_bon(models, bon, cache_dir=cache_dir, progress=progress),
        "teaching": teaching_experiment(),
    }
    return out


def teaching_experiment(steps: int = 3000) -> dict:
    from rewardlab.studies import teaching

    setup = teaching.razin_example()
    pi0 = teaching.softmax(setup.theta0)
    rows = {}
    for name, proxy in setup.proxies.items():
        curve = teaching.run(setup.theta0, proxy, setup.gold, steps=steps)
        rows[name] = {
            "accuracy_off_policy": teaching.accuracy(proxy, setup.gold),
            "accuracy_on_policy": teaching.accuracy(proxy, setup.gold, pi0),
            "variance_under_initial_policy": teaching.variance_under(pi0, proxy),
            "steps_to_gain": {str(g): teaching.time_to_gain(curve, g) for g in GAINS},
            "curve": curve[np.unique(np.geomspace(1, steps + 1, 120).astype(int)) - 1].tolist(),
        }
    slow, fast = rows["accurate, low variance"], rows["less accurate, high variance"]
    ratio = {g: slow["steps_to_gain"][g] / fast["steps_to_gain"][g] for g in slow["steps_to_gain"]
             if slow["steps_to_gain"][g] and fast["steps_to_gain"][g]}
    return {"proxies": rows, "steps": steps, "time_ratio_low_over_high_variance": ratio}


def print_alignment(a: dict, say=say) -> None:
    say(f"\nsoft best-of-N on {a['bon']['prompts']} reward-bench-bon prompts, Stackelberg-shaped vs raw (N=11):")
    for name, res in a["bon"].items():
        if name == "prompts":
            continue
        cells = [r for r in res["rows"] if r["n"] == 11]
        say(f"  {name:<20}" + "  ".join(
            f"beta {r['beta']}: win/tie/loss {r['win']}/{r['tie']}/{r['loss']}, gold {r['gold_diff']:+.4f}" for r in cells))
    say("\nteacher report (accuracy on gold pairs, normalised reward variance under the policy's samples):")
    for r in a["teacher"]["rows"]:
        say(f"  {r['name']:<20}accuracy {r['accuracy']:.3f} (rank {r['accuracy_rank']})  variance {r['variance']:.3f} (rank {r['variance_rank']})")
    t = a["teaching"]
    say("\noptimisation experiment (tabular softmax, exact policy gradient): steps to raise E[r_G] by "
        + ", ".join(map(str, GAINS)))
    for name, p in t["proxies"].items():
        say(f"  {name:<30}acc {p['accuracy_off_policy']:.2f} off-policy / {p['accuracy_on_policy']:.2f} on-policy, "
            f"var {p['variance_under_initial_policy']:.4f}, steps {list(p['steps_to_gain'].values())}")
    say("  low-variance teacher is slower by " + ", ".join(f"{v:.1f}x" for v in t["time_ratio_low_over_high_variance"].values()))


def add_alignment_sections(rep, a: dict) -> None:
    import matplotlib.pyplot as plt

    rep.heading("Reward shaping for soft best-of-N (reward-bench-bon)")
    rep.paragraph(
        f"{a['bon']['prompts']} AlpacaEval prompts, gold-labelled samples of tulu-2-dpo-13b; soft best-of-N picks "
        "∝ exp(r/β); expected gold preference of the pick with the raw reward and with its Stackelberg shaping "
        "(B = 15 clipped to 2× the prompt's reward range, B/β capped at 2 in F, α = 1). 'simulated σ=1' is a reward "
        "of known signal: gold/std(gold) + N(0, 1). Win/tie/loss count prompts; a tie is within 1e-3."
    )
    rows = []
    names = [k for k in a["bon"] if k != "prompts"]
    for name in names:
        for r in a["bon"][name]["rows"]:
            rows.append([name, r["n"], r["beta"], r["win"], r["tie"], r["loss"], r["win_tie_rate"],
                         f"{r['gold_raw']:.4f} → {r['gold_shaped']:.4f}",
                         f"{r['gold_diff']:+.4f} [{r['gold_diff_ci95'][0]:+.4f}, {r['gold_diff_ci95'][1]:+.4f}]"])
    rep.table(["r_U", "N", "β", "win", "tie", "loss", "win-tie", "gold raw → shaped", "diff [95% bootstrap CI over prompts]"], rows)
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        n_max = max(r["n"] for r in a["bon"][name]["rows"])
        cells = [r for r in a["bon"][name]["rows"] if r["n"] == n_max]
        beta = np.array([r["beta"] for r in cells])
        diff = np.array([r["gold_diff"] for r in cells])
        lo, hi = np.array([r["gold_diff_ci95"] for r in cells]).T
        ax.errorbar(beta, diff, yerr=[diff - lo, hi - diff], fmt="o-", capsize=4)
        ax.axhline(0, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("β")
        ax.set_title(f"r_U = {name}, N = {n_max}", fontsize=9)
    axes[0][0].set_ylabel("gold of the pick: shaped − raw")
    rep.figure(fig, "What Stackelberg shaping changes in the gold preference of the soft best-of-N pick, against β, "
                    "with 95% bootstrap intervals over prompts; above the dotted line shaping helps.")

    rep.heading("Teacher diagnostics: accuracy is not enough")
    t = a["teacher"]
    rep.paragraph(
        f"Each aggregation rule and each ensemble member as a reward model, on {t['prompts']} prompts: accuracy on "
        f"{t['gold_pairs']} gold-labelled sample pairs; variance = mean over prompts of the within-prompt variance of "
        f"the rewards of all {t['policy_samples']} policy samples, standardised over all of them (Razin et al. 2025). "
        "Higher variance = steeper objective for policy gradient."
    )
    rep.table(["reward model", "accuracy", "95% CI", "rank", "variance", "95% CI", "rank"],
              [[r["name"], r["accuracy"], "[%.3f, %.3f]" % tuple(r["accuracy_ci95"]), r["accuracy_rank"], r["variance"],
                "[%.3f, %.3f]" % tuple(r["variance_ci95"]), r["variance_rank"]] for r in t["rows"]])
    fig, ax = plt.subplots(figsize=(7, 4.4))
    # colour = embedder, marker = aggregation rule: a legend names them, so no label can overlap
    embedders = list(dict.fromkeys(r["name"].split(":")[0] for r in t["rows"]))
    colours = dict(zip(embedders, ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"] * 4))
    markers = {"mean": "o", "min": "v", "median": "s", "uwo": "D"}
    for r in t["rows"]:
        embedder, _, rule = r["name"].partition(":")
        member = rule.startswith("member")
        ax.errorbar(r["variance"], r["accuracy"],
                    xerr=[[r["variance"] - r["variance_ci95"][0]], [r["variance_ci95"][1] - r["variance"]]],
                    yerr=[[r["accuracy"] - r["accuracy_ci95"][0]], [r["accuracy_ci95"][1] - r["accuracy"]]],
                    fmt="." if member else markers.get(rule, "o"), ms=4 if member else 7, capsize=2,
                    color="#c8c8c8" if member else colours[embedder], zorder=1 if member else 2, alpha=0.8)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[e], marker="o", ls="", label=e) for e in embedders]
    handles += [Line2D([], [], color="k", marker=m, ls="", label=rule) for rule, m in markers.items()]
    handles.append(Line2D([], [], color="#c8c8c8", marker=".", ls="", label="members"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xlabel("normalised reward variance under the policy")
    ax.set_ylabel("on-policy pairwise accuracy")
    rep.figure(fig, "Reward models by accuracy and by variance, each with its 95% interval (Wilson for accuracy over "
                    "gold pairs, normal over prompts for variance); colour: embedder, marker: aggregation rule, grey: members.")

    rep.heading("Why variance matters: the optimisation experiment")
    e = a["teaching"]
    rep.paragraph(
        "A tabular softmax policy over 6 outputs with ground-truth reward r_G = 0..1, initially 90% on the worst "
        "output, trained by exact policy gradient on a proxy reward. The accurate proxy (0.1·r_G: accuracy 1) gives "
        "nearly flat rewards under the initial policy; the less accurate proxy misorders the middle outputs but "
        "separates the outputs the policy samples. Time-to-gain ratio (accurate / less accurate): "
        + ", ".join(f"{g}: {v:.1f}×" for g, v in e["time_ratio_low_over_high_variance"].items())
    )
    rep.table(["proxy", "accuracy (off / on policy)", "variance under π0"] + [f"steps to +{g}" for g in GAINS],
              [[n, f"{p['accuracy_off_policy']:.2f} / {p['accuracy_on_policy']:.2f}", p["variance_under_initial_policy"]]
               + list(p["steps_to_gain"].values()) for n, p in e["proxies"].items()])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.unique(np.geomspace(1, e["steps"] + 1, 120).astype(int)) - 1
    for n, p in e["proxies"].items():
        ax.plot(x + 1, p["curve"], label=n)
    ax.set_xscale("log")
    ax.set_xlabel("policy-gradient step + 1")
    ax.set_ylabel("E_π[r_G]")
    ax.legend(fontsize=7)
    rep.figure(fig, "Ground-truth reward during training on each proxy.")
