"""``rewardlab train``: train an ensemble reward model on frozen embeddings."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardlab.cli._common import add_common, add_split, count_at_least, progress, say, say_length_baselines

if TYPE_CHECKING:
    from rewardlab.data import LoadReport

# rewardlab.models.LOSSES, named here so that --help needs no torch (a test checks they agree)
LOSS_NAMES = ("bt", "margin", "cls")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    from rewardlab.embed import EMBEDDERS

    p = sub.add_parser("train", help="train an ensemble reward model on frozen embeddings")
    p.add_argument("--data", action="append", required=True, metavar="FILE", help="preference file (jsonl[.gz]); repeat for several")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the model to")
    p.add_argument("--embedder", action="append", default=None, metavar="SPEC",
                   help=f"one of {', '.join(EMBEDDERS)} (default minilm); repeat to alternate embedders across members; "
                        "hf:PATH (a sequence-classification reward model inside --out) joins as one more member, as it is; "
                        "A+B concatenates embedders (minilm+e5; hf:PATH+length trains heads on the reward and the length)")
    p.add_argument("--members", type=count_at_least(1), default=5, help="ensemble size K (default 5)")
    p.add_argument("--loss", choices=LOSS_NAMES, default="bt", help="bt (Bradley-Terry), margin (hinge) or cls (classification)")
    p.add_argument("--hidden", type=count_at_least(1), nargs="*", default=[256], help="hidden layer widths (default 256; none = linear)")
    p.add_argument("--epochs", type=count_at_least(1), default=100, help="maximum epochs (early stopping on the dev split)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--no-bootstrap", action="store_true", help="train every member on all training pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cross-fit", type=count_at_least(2), default=None, metavar="K",
                   help="also train K more ensembles, each without one fold of prompts, and report the accuracy and the "
                        "length baselines over every pair, each scored by an ensemble that never saw its prompt "
                        "(all pairs, whatever --dev/--test; for small preference sets)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_split(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rewardlab.embed import check_spec, model_file_embedder, model_file_spec
    from rewardlab.errors import InvalidInputError
    from rewardlab.models import TrainConfig
    from rewardlab._utils.outputs import check_output_dir
    from rewardlab.data import check_fractions, iter_many
    from rewardlab.models.pipeline import Timer, fit_model, stream_split_features

    # every argument is checked before any data is read
    check_output_dir("out", args.out)
    config = TrainConfig(
        loss=args.loss,
        hidden=tuple(args.hidden),
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        bootstrap=not args.no_bootstrap,
        seed=args.seed,
    )
    config.validate()
    for spec in args.embedder:
        check_spec(spec)
        try:  # the spec as the saved model file will record and read it: refused now, not after training
            model_file_embedder(model_file_spec(spec, args.out), args.out)
        except InvalidInputError:
            raise InvalidInputError(f"embedder: {spec} is outside --out {args.out}; a model file may name a model only "
                                    f"inside its own folder: copy it into {args.out} first and name that copy") from None
    check_fractions(args.dev, args.test)
    split = {"dev": args.dev, "test": args.test, "salt": args.split_salt}
    started = time.perf_counter()
    timer = Timer()
    reports: list[LoadReport] = []

    def pairs():  # read twice: once to size the feature arrays, once to fill them
        stream, reports[:] = iter_many(args.data, strict=args.strict)
        return stream

    t = time.perf_counter()
    train, dev, sizes, seen = stream_split_features(pairs, args.embedder, split, args.cache_dir, progress(args))
    timer.add("embed", t)
    for r in reports:
        say(r.summary())
    meta = {
        "data": [str(Path(p).resolve()) for p in args.data],
        "split": split,
        "load_reports": [r.to_dict() for r in reports],
    }
    t = time.perf_counter()
    model = fit_model(train, dev, args.embedder, config, args.members, sizes, meta, seen=seen)
    timer.add("train", t)
    model.save(args.out)
    out: dict[str, Any] = {
        "out": str(args.out),
        "members": len(model.members),
        "embedders": model.embedders,
        "split_sizes": sizes,
        "seconds": {**{k: round(v, 2) for k, v in timer.stages.items()}, "total": round(time.perf_counter() - started, 2)},
    }
    if args.cross_fit:
        from rewardlab.models.crossfit import cross_fit

        t = time.perf_counter()
        stream, _ = iter_many(args.data, strict=args.strict)
        out["cross_fit"] = cross_fit(list(stream), args.embedder, config, args.members, args.cross_fit,
                                     cache_dir=args.cache_dir, progress=progress(args)).summary()
        out["seconds"]["cross_fit"] = round(time.perf_counter() - t, 2)
    if args.json:
        print(json.dumps(out))
        return 0
    say(f"trained {out['members']} members on {sizes['train']} pairs in {out['seconds']['train']} s "
        f"(embedding {out['seconds']['embed']} s); saved to {args.out}")
    if args.cross_fit:
        c = out["cross_fit"]
        say(f"cross-fitted over {c['folds']} folds by prompt ({c['pairs']} pairs, each scored by an ensemble that never "
            f"saw its prompt; {out['seconds']['cross_fit']} s): accuracy {c['accuracy']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]")
        say_length_baselines(c["length_baselines"])
        say("  per fold, minus shorter: " + ", ".join(f"{f['minus_shorter']:+.3f}" for f in c["per_fold"]))
    return 0
