"""``rewardlab serve``: the reward model as an HTTP service for RL trainers (OpenRLHF's
``--reward.remote_url``, the native ``/score``, Prometheus ``/metrics``)."""

from __future__ import annotations

import argparse
import os
import sys

from rewardlab.cli._common import AGGREGATES, add_common, count_at_least, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the subcommand and its arguments to ``sub``."""
    p = sub.add_parser("serve", help="serve a reward model over HTTP to an RL trainer (OpenRLHF /get_reward, /score)")
    p.add_argument("--model", required=True, metavar="DIR", help="a rewardlab model folder, or hf:PATH (a transformers sequence-classification reward model)")
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean", help="ensemble rule (default mean)")
    p.add_argument("--lam", type=float, default=1.0, help="uwo's penalty: mean - LAM * std (default 1)")
    p.add_argument("--shaping", choices=("none", "stackelberg"), default="none",
                   help="per-group shaping of /score's groups (default none)")
    p.add_argument("--beta", type=float, default=1.0, help="KL strength of the stackelberg shaping (default 1)")
    p.add_argument("--B", type=float, default=15.0, help="reward bound of the stackelberg shaping (default 15)")
    p.add_argument("--flat-var", type=float, default=1e-3,
                   help="a group whose reward variance is below this is flagged flat (default 1e-3)")
    p.add_argument("--judge", default=None, metavar="LM",
                   help="a causal LM judge (smollm2, a model folder or a .gguf) for the least certain grouped items of /score")
    p.add_argument("--slow-rate", type=float, default=0.1, metavar="R",
                   help="with --judge: the share of each request's grouped items sent to the judge (default 0.1)")
    p.add_argument("--judge-max-new-tokens", type=count_at_least(1), default=128, help="the judge's chain-of-thought cap (default 128)")
    p.add_argument("--force-verdict", action="store_true",
                   help="with --judge: read the verdict off the logits when the chain of thought ends without one")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=count_at_least(0), default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--max-batch", type=count_at_least(1), default=64, help="items per model batch (default 64)")
    p.add_argument("--max-wait-ms", type=float, default=2.0,
                   help="how long a batch waits for more requests when fewer than --max-batch items are queued (default 2)")
    p.add_argument("--max-queue", type=count_at_least(1), default=16384,
                   help="items waiting for a batch before requests get 503 (default 16384; also the most per request)")
    p.add_argument("--max-body-mb", type=float, default=64.0, help="largest request body in MiB (default 64)")
    p.add_argument("--json", action="store_true", help="print one JSON line on stdout once requests are accepted")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # oneDNN keeps a compiled kernel per tensor shape (1024 by default); a server sees a new
    # (batch, length) shape with nearly every batch, and the default cache grew its memory by
    # ~400 MB over 10 minutes of load before levelling off. 64 kept it flat at the same speed
    # (docs/serve.md). Read when torch first runs a kernel, so it is set before torch is imported.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
    from rewardlab.errors import invalid

    try:
        import prometheus_client, pydantic, starlette, uvicorn  # noqa: F401,E401  (the serve extra)
    except ImportError as err:
        raise invalid("serve", f"needs the serve extra: pip install 'rewardlab[serve]' ({err})") from None
    from rewardlab.serve import RewardScorer, ServeConfig, ServeRules, ready_line, run_server

    if not 0 < args.max_body_mb <= 1 << 20:
        raise invalid("max_body_mb", f"must be in (0, 1048576] MiB, got {args.max_body_mb}")
    rules = ServeRules(aggregate=args.aggregate, lam=args.lam, shaping=args.shaping, beta=args.beta, B=args.B,
                       flat_var=args.flat_var)
    config = ServeConfig(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
                         max_body_bytes=int(args.max_body_mb * 1024 * 1024))
    if not 0.0 <= args.slow_rate <= 1.0:
        raise invalid("slow_rate", f"must be in [0, 1], got {args.slow_rate}")
    scorer = RewardScorer.load(args.model, rules, args.cache_dir, batch_size=args.max_batch)
    route = None
    if args.judge:
        from rewardlab.fastslow.judge import JudgeConfig, LMJudge
        from rewardlab.serve.slow_route import SlowRoute

        judge_config = JudgeConfig(max_new_tokens=args.judge_max_new_tokens, on_unparsed="force" if args.force_verdict else "fast")
        route = SlowRoute(LMJudge.load(args.judge, judge_config, cache=False), args.slow_rate)

    def ready(url: str) -> None:
        if args.json:
            print(ready_line(url, scorer, config), flush=True)
        say(f"serving {args.model} ({len(scorer.model.members)} members, {args.aggregate}) at {url}",
            f"OpenRLHF: --reward.remote_url {url}/get_reward")
        sys.stderr.flush()

    run_server(scorer, config, host=args.host, port=args.port, on_ready=ready, slow_route=route)
    return 0
