"""The ensemble case study (``rewardlab study ensembles``) where the answer is known, and on real data.

1. **Synthetic, known gold.** Embeddings ``e ~ N(0, I_D)`` of ``prompts x responses`` responses and
   a golden reward that is linear in them, ``r = e . w`` (``w ~ N(0, I_D)``), written as the
   paper's ``.npy`` arrays and read memory-mapped. Half of the prompts train, half test.
2. **Synthetic, out of distribution.** The golden reward bends down away from the centre,
   ``r = e . w - 0.5 ||e[:8]||^2``; training prompts (1,000 x 20) are drawn as above, but a fifth
   of the test responses (500 prompts x 100) are 2.5x farther out, where a proxy fitted on the
   training distribution extrapolates the linear trend and best-of-N is drawn to them: Coste et
   al.'s overoptimisation, which conservative rules are meant to resist.
3. **reward-bench-bon.** The bundled AlpacaEval best-of-N set (11 gold-labelled samples per prompt;
   golden reward: the judge's preference of each sample over the reference), embedded by each
   ``--embedder``, with same-prompt pairs.

Each writes ``<out>/<name>.json`` (the study's JSON) and ``<out>/<name>/report.html``.

    python examples/ensemble_study.py --out examples/results/ensemble-study [--runs 3] [--skip-bon]

The reward-bench-bon studies are the CLI's own: ``rewardlab study ensembles --data BON --embedder E
--pairing same --runs 3 [--context ends]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from rewardlab.cli import main as cli
from rewardlab.studies.demo.run import find_data_dir


def synthetic_arrays(folder: Path, prompts: int, responses: int, dim: int, seed: int) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((prompts, responses, dim)).astype(np.float32)
    gold = emb.astype(np.float64) @ rng.standard_normal(dim)
    np.save(folder / "emb.npy", emb)
    np.save(folder / "gold.npy", gold)
    return str(folder / "emb.npy"), str(folder / "gold.npy")


def shifted_arrays(folder: Path, dim: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(dim)

    def gold(e: np.ndarray) -> np.ndarray:
        e = e.astype(np.float64)
        return e @ w - 0.5 * (e[..., :8] ** 2).sum(-1)

    train = rng.standard_normal((1000, 20, dim)).astype(np.float32)
    test = rng.standard_normal((500, 100, dim)).astype(np.float32)
    test[rng.random((500, 100)) < 0.2] *= 2.5
    paths = []
    for name, emb in (("train", train), ("test", test)):
        np.save(folder / f"{name}_emb.npy", emb)
        np.save(folder / f"{name}_gold.npy", gold(emb))
        paths.append([str(folder / f"{name}_emb.npy"), str(folder / f"{name}_gold.npy")])
    return paths[0], paths[1]


def study(out: Path, name: str, args: list[str]) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli(["study", "ensembles", *args, "--out", str(out / name), "--json"])
    if code != 0:
        raise SystemExit(f"{name}: rewardlab study ensembles exited {code}")
    result = json.loads(buf.getvalue())
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=2000, help="synthetic prompts (half train, half test)")
    ap.add_argument("--responses", type=int, default=50, help="synthetic responses per prompt")
    ap.add_argument("--dim", type=int, default=32, help="synthetic embedding dimension")
    ap.add_argument("--embedder", action="append",
                    help="embedders for reward-bench-bon (default minilm and hash; e5 takes over an hour on these long texts on 2 cores)")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-linear", action="store_true", help="of the synthetic studies, only the out-of-distribution one")
    ap.add_argument("--skip-bon", action="store_true", help="only the synthetic study")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    common = ["--runs", str(a.runs), "--members", "5"]
    if not a.skip_synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            emb, gold = synthetic_arrays(Path(tmp), a.prompts, a.responses, a.dim, seed=0)
            if not a.skip_linear:
                study(a.out, "synthetic-linear", ["--arrays", emb, gold, "--pairing", "cross", "--pairs-per-prompt", "10", *common])
            train, test = shifted_arrays(Path(tmp), a.dim, seed=0)
            study(a.out, "synthetic-shift", ["--arrays", *train, "--test-arrays", *test, "--pairing", "cross",
                                             "--pairs-per-prompt", "10", *common])
    bon = find_data_dir() / "reward-bench-bon" / "alpaca_eval_tulu2_dpo_13b_n16.jsonl.gz"
    for e in [] if a.skip_bon else a.embedder or ["minilm", "hash"]:
        study(a.out, f"reward-bench-bon-{e.replace(':', '-')}",
              ["--data", str(bon), "--embedder", e, "--pairing", "same", *common])


if __name__ == "__main__":
    main()
