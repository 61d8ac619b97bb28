"""The ensemble case study of Sun et al. (2025), after Coste et al. (ICLR 2024): do ensembles, and
conservative rules most, make best-of-N safer under label noise?

Protocol (one run, for each annotation quality q):

1. Simulated annotators label pairs of the training prompts' responses from the golden reward
   (:mod:`rewardlab.models.annotators`); the share of labels that contradict it is reported.
2. K heads train on those pairs, each on its own random 80/20 train/validation split of them and
   its own seed (the paper's members; early stopping on the validation loss).
3. Every response of the test prompts is scored by every member; the rules (mean, min, median,
   mean - std, mean - var) combine them. Each member alone and each rule is a proxy reward.
4. Each proxy is judged by the golden reward: the exact expected best-of-N curve
   (:func:`rewardlab.models.golden.bon_curve`) and the per-prompt Spearman rho.

"single" is a member alone, averaged over the K members (the expected single model). Intervals
are percentile bootstraps over test prompts; a rule's gain over single is paired (the same
prompts resampled for both). With several runs (fresh annotations, splits and seeds each), a
prompt's values are first averaged over the runs.

Two bugs of the published code are avoided: its evaluation loop loads only the last member (so
mean, min and first coincide; here every member is scored, and a test checks the rules against
numpy on the member scores), and its "accuracy" counts a pick in the lower half as correct (not
reported here: the best-of-N golden reward and its quantile-free curve are).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import torch

from rewardlab.data.response_sets import ResponseSet
from rewardlab.errors import invalid
from rewardlab.models.annotators import annotate
from rewardlab.models.ensemble import aggregate
from rewardlab.models.golden import bon_curve, prompt_bootstrap, spearman_per_prompt
from rewardlab.models.heads import Member
from rewardlab.models.training import PairFeatures, TrainConfig, train_member

RULES: tuple[tuple[str, str, dict], ...] = (
    ("mean", "mean", {}),
    ("min", "min", {}),
    ("median", "median", {}),
    ("uwo", "uwo", {"lam": 1.0}),  # mean - std
    ("uwo_var", "uwo_var", {"lam": 1.0}),  # mean - var: Coste et al.'s form
)
# the paper's schedule (30 epochs, patience 3); members differ by their split and seed, not by bootstrap
STUDY_CONFIG = TrainConfig(epochs=30, patience=3, bootstrap=False)


def default_ns(responses: int) -> list[int]:
    """The paper's N grid (1, 2, 5, 10, 30, 50, 100, 300, 500) cut to the responses available,
    with all of them last."""
    return sorted({n for n in (1, 2, 5, 10, 30, 50, 100, 300, 500) if n < responses} | {responses})


def train_members(train: ResponseSet, winner: np.ndarray, loser: np.ndarray, members: int, config: TrainConfig,
                  seed: int) -> list[Member]:
    """K heads on the labelled pairs, member i on its own 80/20 split (seeded ``seed + i``)."""
    chosen, rejected = train.vectors(winner), train.vectors(loser)
    for at, vectors in ((winner, chosen), (loser, rejected)):
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():
            p, r = at[np.argmax(bad)]
            raise invalid("embeddings", f"{train.source}: the vector of prompt row {train.rows[p]}, response {r} is not finite")
    out = []
    for i in range(members):
        order = np.random.default_rng(seed + i).permutation(len(chosen))
        cut = max(1, int(round(0.8 * len(order)))) if len(order) > 1 else 1
        fit, dev = np.sort(order[:cut]), np.sort(order[cut:])
        dev_pairs = PairFeatures(chosen[dev], rejected[dev]) if len(dev) else None
        out.append(train_member(PairFeatures(chosen[fit], rejected[fit]), dev_pairs, config, seed + i, train.source))
    return out


def _check_finite(block: np.ndarray, data: ResponseSet, start: int) -> None:
    bad = ~np.isfinite(block).all(axis=2)
    if bad.any():
        p, r = np.argwhere(bad)[0]
        raise invalid("embeddings", f"{data.source}: the vector of prompt row {data.rows[start + p]}, response {r} is not finite")


def score_members(members: Sequence[Member], test: ResponseSet) -> np.ndarray:
    """float64 ``[K, P, R]``: every member's standardised score of every test response, read by
    blocks of prompts (the vectors are never all in memory)."""
    out = np.empty((len(members), test.prompts, test.responses))
    for part, block in test.blocks():
        _check_finite(block, test, part.start)
        x = torch.from_numpy(block.reshape(-1, test.dim))
        for k, m in enumerate(members):
            out[k, part] = m.score(x).double().numpy().reshape(-1, test.responses)
    return out


def proxies(scores: np.ndarray) -> dict[str, np.ndarray]:
    """Each rule's ``[P, R]`` proxy from member scores ``[K, P, R]``."""
    k, p, r = scores.shape
    flat = scores.reshape(k, p * r)
    return {label: aggregate(flat, method, **kw).value.reshape(p, r) for label, method, kw in RULES}


def _nanmean0(a: np.ndarray) -> np.ndarray:
    """The mean over axis 0 of the finite values; NaN where there are none (no warning)."""
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    return np.where(count > 0, np.where(ok, a, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)


def _one_run(train: ResponseSet, test: ResponseSet, quality: float, *, members: int, pairing: str,
             pairs_per_prompt: int, scale: float | None, ns: list[int], config: TrainConfig, seed: int) -> dict:
    ann = annotate(train.gold, quality, pairing=pairing, pairs_per_prompt=pairs_per_prompt, scale=scale, seed=seed)
    heads = train_members(train, ann.winner, ann.loser, members, replace(config, seed=seed), seed)
    scores = score_members(heads, test)
    rules = proxies(scores)
    curves = {label: bon_curve(proxy, test.gold, ns) for label, proxy in rules.items()}
    rhos = {label: spearman_per_prompt(proxy, test.gold) for label, proxy in rules.items()}
    single_curves = np.stack([bon_curve(s, test.gold, ns) for s in scores])  # [K, P, len(ns)]
    single_rhos = np.stack([spearman_per_prompt(s, test.gold) for s in scores])
    return {
        "noise": ann.noise_rate, "expected_noise": ann.expected_noise_rate, "pairs": len(ann), "scale": ann.scale,
        "curves": {"single": single_curves.mean(axis=0), **curves},
        "rhos": {"single": _nanmean0(single_rhos), **rhos},
        "member_final": single_curves[:, :, -1].mean(axis=1),  # each member's best-of-max-N gold
    }


def ensemble_study(train: ResponseSet, test: ResponseSet, qualities: Sequence[float], *, members: int = 5,
                   pairing: str = "cross", pairs_per_prompt: int = 10, scale: float | None = None,
                   ns: Sequence[int] | None = None, runs: int = 1, config: TrainConfig = STUDY_CONFIG,
                   seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """The study's numbers for every quality (see module doc), as plain JSON values."""
    if train.dim != test.dim:
        raise invalid("test", f"the test vectors have D = {test.dim}, the training ones {train.dim}")
    for name, value in (("members", members), ("runs", runs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid(name, f"must be a positive integer, got {value!r}")
    if not qualities:
        raise invalid("quality", "give at least one annotation quality")
    ns = list(ns) if ns is not None else default_ns(test.responses)
    oracle = bon_curve(test.gold, test.gold, ns)  # every N's best: the ceiling of any proxy
    out_rows = []
    started = time.perf_counter()
    for q in qualities:
        runs_out = []
        for r in range(runs):
            runs_out.append(_one_run(train, test, float(q), members=members, pairing=pairing,
                                     pairs_per_prompt=pairs_per_prompt, scale=scale, ns=ns, config=config,
                                     seed=seed + 1000 * r))
            if progress is not None:
                progress(f"q={q:g} run {r + 1}/{runs}: label noise {runs_out[-1]['noise']:.3f} "
                         f"({time.perf_counter() - started:.0f} s)")
        out_rows.append(_summarise(float(q), runs_out, ns, seed))
    return {
        "ns": ns, "members": members, "pairing": pairing, "pairs_per_prompt": pairs_per_prompt, "runs": runs,
        "train_prompts": train.prompts, "test_prompts": test.prompts, "responses": test.responses,
        "config": config.to_dict(), "seed": seed,
        "oracle": prompt_bootstrap(oracle)[0].tolist(), "random": float(test.gold.mean()),
        "qualities": out_rows,
    }


def _summarise(quality: float, runs: list[dict], ns: list[int], seed: int) -> dict:
    labels = list(runs[0]["curves"])
    curves = {k: np.mean([r["curves"][k] for r in runs], axis=0) for k in labels}  # [P, len(ns)]
    rhos = {k: _nanmean0(np.stack([r["rhos"][k] for r in runs])) for k in labels}
    rules = {}
    for k in labels:
        bon, bon_ci = prompt_bootstrap(curves[k], seed=seed)
        rho, rho_ci = prompt_bootstrap(rhos[k][:, None], seed=seed)
        entry = {"bon": bon.tolist(), "bon_ci95": bon_ci.T.tolist(), "spearman": float(rho[0]),
                 "spearman_ci95": rho_ci[:, 0].tolist()}
        if k != "single":  # paired with single: the same resampled prompts for both
            gain, gain_ci = prompt_bootstrap(curves[k] - curves["single"], seed=seed)
            entry.update(gain_over_single=gain.tolist(), gain_over_single_ci95=gain_ci.T.tolist())
        rules[k] = entry
    finals = np.concatenate([r["member_final"] for r in runs])
    return {
        "quality": quality if math.isfinite(quality) else "inf",
        "label_noise": float(np.mean([r["noise"] for r in runs])),
        "expected_label_noise": float(np.mean([r["expected_noise"] for r in runs])),
        "pairs": runs[0]["pairs"], "scale": runs[0]["scale"],
        "members_at_max_n": [float(finals.min()), float(finals.max())],
        "rules": rules,
    }
