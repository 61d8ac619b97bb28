"""The ensemble study as a page: its tables, the best-of-N curves and the verdict (report.html + report.json)."""

from __future__ import annotations

from pathlib import Path

from rewardlab.studies.report import Report


def table_rows(row: dict, ns: list[int]) -> list[list[str]]:
    """One line per proxy (single, then each rule) of one quality's results."""
    out = []
    for name, e in row["rules"].items():
        lo, hi = e["bon_ci95"][-1]
        gain = "" if name == "single" else (
            f"{e['gain_over_single'][-1]:+.4f} [{e['gain_over_single_ci95'][-1][0]:+.4f}, {e['gain_over_single_ci95'][-1][1]:+.4f}]")
        out.append([name, *[f"{v:.4f}" for v in e["bon"]], f"[{lo:.4f}, {hi:.4f}]", gain,
                    f"{e['spearman']:.3f} [{e['spearman_ci95'][0]:.3f}, {e['spearman_ci95'][1]:.3f}]"])
    return out


def header(ns: list[int]) -> list[str]:
    """The column names of :func:`table_rows`."""
    return ["proxy", *[f"BoN@{n}" for n in ns], f"95% CI @{ns[-1]}", f"gain over single @{ns[-1]} [95% CI]", "Spearman [95% CI]"]


def _gain_cell(entry: dict) -> str:
    g, (lo, hi) = entry["gain_over_single"][-1], entry["gain_over_single_ci95"][-1]
    mark = " +" if lo > 0 else " −" if hi < 0 else ""
    return f"{g:+.4f} [{lo:+.4f}, {hi:+.4f}]{mark}"


def gain_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: per quality, the label noise, the single member's best-of-max-N and each
    rule's paired gain over it (+/− where the interval excludes 0)."""
    rules = [k for k in result["qualities"][0]["rules"] if k != "single"]
    rows = [[str(row["quality"]), f"{row['label_noise']:.1%}", f"{row['rules']['single']['bon'][-1]:.4f}",
             *[_gain_cell(row["rules"][k]) for k in rules]] for row in result["qualities"]]
    return ["q", "labels wrong", f"single @{result['ns'][-1]}", *rules], rows


def write_report(result: dict, out: Path, title: str) -> tuple[Path, Path]:
    """The page and its JSON twin in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = result["ns"]
    rep = Report(title)
    rep.data = result
    rep.paragraph(
        f"{result['source']}: {result['train_prompts']} training prompts, {result['test_prompts']} test prompts x "
        f"{result['responses']} responses; {result['members']} members per ensemble, {result['pairing']}-prompt pairs "
        f"({result['pairs_per_prompt']} per training prompt), {result['runs']} run(s). Golden reward of the proxy's "
        "best of N (exact expectation over all N-subsets), with 95% percentile-bootstrap intervals over test prompts; "
        "'single' is one member alone, averaged over the members; gains over single are paired.")
    qualities = result["qualities"]
    rules = [k for k in qualities[0]["rules"] if k != "single"]
    n = ns[-1]
    rep.heading(f"Gain of each rule over a single member at N = {n}")
    rep.paragraph("Golden reward of the rule's best-of-N pick minus the single member's, mean over test prompts and "
                  "95% paired bootstrap interval; + the interval is above 0, − below 0, blank: it covers 0.")
    rep.table(*gain_table(result))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = list(range(len(qualities)))
    for j, k in enumerate(rules):
        g = [row["rules"][k]["gain_over_single"][-1] for row in qualities]
        lo = [g_ - row["rules"][k]["gain_over_single_ci95"][-1][0] for g_, row in zip(g, qualities)]
        hi = [row["rules"][k]["gain_over_single_ci95"][-1][1] - g_ for g_, row in zip(g, qualities)]
        ax.errorbar([v + 0.12 * (j - len(rules) / 2) for v in x], g, yerr=[lo, hi], fmt="o", capsize=3, ms=4, label=k)
    ax.axhline(0, color="k", lw=0.8, ls=":")
    ax.set_xticks(x, [f"q={row['quality']}\n{row['label_noise']:.0%} wrong" for row in qualities], fontsize=8)
    ax.set_ylabel(f"gold of BoN@{n} pick:\nrule − single")
    ax.legend(fontsize=7, ncol=len(rules))
    rep.figure(fig, f"Coste et al.'s question: does an ensemble rule pick better responses than one member (best of {n}), "
                    "and more so under label noise? 95% paired bootstrap intervals over test prompts.")
    cols = min(3, len(qualities))
    rows = -(-len(qualities) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False)
    for ax, row in zip(axes.flat, qualities):
        for name, e in row["rules"].items():
            style = {"lw": 2.2, "color": "k"} if name == "single" else {"lw": 1.2}
            ax.plot(ns, [v - result["random"] for v in e["bon"]], marker="o", ms=3, label=name, **style)
        ax.axhline(0, color="k", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("N")
        ax.set_title(f"q = {row['quality']} ({row['label_noise']:.0%} labels wrong)", fontsize=9)
    for ax in axes.flat[len(qualities):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("gold of the pick − random pick")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    oracle = result["oracle"][-1] - result["random"]
    rep.figure(fig, "Best-of-N golden reward over a random pick, against N, for one member alone ('single') and each "
                    f"ensemble rule. The oracle (the best golden reward among N) reaches +{oracle:.3f} at N = {n}.")
    for row in qualities:
        rep.heading(f"q = {row['quality']}: {row['label_noise']:.1%} of {row['pairs']} labels wrong "
                    f"(the annotator model predicts {row['expected_label_noise']:.1%})")
        rep.table(header(ns), table_rows(row, ns))
    return rep.write(out)
