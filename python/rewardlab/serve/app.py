"""The HTTP service: a Starlette app served by uvicorn.

Why Starlette + uvicorn (not FastAPI, not a Rust HTTP server): per request the HTTP layer costs
tens of microseconds, the embedder milliseconds (benches/bench_serve.py measures both), so a faster
server would not change what a trainer sees; Starlette is the well-kept ASGI core that FastAPI
itself is built on, and without FastAPI's dependency injection every request is parsed once, by
pydantic, from the raw bytes. uvicorn (with uvloop and httptools when installed) handles
keep-alive, back-pressure and graceful shutdown on SIGTERM: in-flight requests finish first.

Every error is a JSON body ``{"error": {"status", "field", "message"}}``; nothing a client sends
can stop the service or change what it answers to the next request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rewardlab.errors import InvalidInputError, invalid
from rewardlab.serve.batcher import MicroBatcher, QueueFull
from rewardlab.serve.metrics import ServeMetrics
from rewardlab.serve.schema import GetRewardRequest, RequestError, ScoreRequest, parse
from rewardlab.serve.scorer import BatchScores, RewardScorer, finite_or_none, openrlhf_answer, split_queries

if TYPE_CHECKING:
    from rewardlab.serve.slow_route import SlowRoute

log = logging.getLogger("rewardlab.serve")


@dataclass(frozen=True)
class ServeConfig:
    """Batching and limits. ``max_queue`` counts items waiting for a batch; a request that would
    pass it is refused with 503 and ``Retry-After``; one larger than it alone, with 413."""

    max_batch: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 16384
    max_body_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body_bytes"):
            if int(getattr(self, name)) < 1:
                raise invalid(name, f"must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.max_wait_ms <= 10_000:
            raise invalid("max_wait_ms", f"must be in [0, 10000] ms, got {self.max_wait_ms}")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (before it is all read when
    Content-Length says so)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "body", f"{declared} bytes; this server takes at most {limit} (--max-body-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "body", f"more than {limit} bytes; this server takes at most {limit} (--max-body-mb)")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(scorer: RewardScorer, config: ServeConfig | None = None,
               on_ready: Callable[[], None] | None = None, slow_route: "SlowRoute | None" = None) -> Starlette:
    """The service around ``scorer``; ``on_ready`` is called once it accepts requests;
    ``slow_route``: the generative judge for the least certain grouped items of ``/score``."""
    config = config or ServeConfig()
    judge_thread = ThreadPoolExecutor(1, thread_name_prefix="rewardlab-judge")  # one LM, one call at a time
    metrics = ServeMetrics()
    state: dict[str, MicroBatcher] = {}

    def score_items(items: list[tuple[str, str]]) -> BatchScores:
        return scorer.score([p for p, _ in items], [r for _, r in items])

    async def scored(items: list[tuple[str, str]]) -> BatchScores:
        if len(items) > config.max_queue:
            raise RequestError(413, "items", f"{len(items)} items; one request may carry at most {config.max_queue} "
                               "(--max-queue): split it")
        try:
            scores: BatchScores = await state["batcher"].submit(items)
        except QueueFull as err:
            raise RequestError(503, "queue", f"the server is at capacity ({err}); retry later", {"Retry-After": "1"}) from None
        metrics.items.inc(len(items))
        return scores

    def endpoint(name: str, handler: Callable[[Request], Awaitable[dict]]) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response: Response = JSONResponse(await handler(request))
            except RequestError as err:
                response = JSONResponse(err.body(), err.status, headers=err.headers)
            except ClientDisconnect:
                response = JSONResponse(RequestError(400, "body", "the client disconnected").body(), 400)
            except Exception as err:  # a defect of ours: say so, keep serving
                log.exception("request to %s failed", name)
                response = JSONResponse(RequestError(500, "server", f"{type(err).__name__}: {err}").body(), 500)
            metrics.requests.labels(name, str(response.status_code)).inc()
            metrics.latency.labels(name).observe(time.perf_counter() - started)
            return response

        return answer

    async def get_reward(request: Request) -> dict:
        body = parse(GetRewardRequest, await read_body(request, config.max_body_bytes))
        try:
            responses = split_queries(body.query, body.prompts, body.labels)
        except InvalidInputError as err:
            raise RequestError.from_invalid(err) from None
        return openrlhf_answer(await scored(list(zip(body.prompts, responses))))

    async def score(request: Request) -> dict:
        body = parse(ScoreRequest, await read_body(request, config.max_body_bytes))
        prompts, responses = [it.prompt for it in body.items], [it.response for it in body.items]
        s = await scored(list(zip(prompts, responses)))
        keys = [it.group for it in body.items]
        g = scorer.groups(keys, s)
        judged = None
        if slow_route is not None and g.keys:
            judged = await asyncio.get_running_loop().run_in_executor(
                judge_thread, partial(slow_route.apply, prompts, responses, s.reward, g))
            s = BatchScores(judged.reward, s.std, s.members, s.tokens + judged.tokens)
            g = scorer.groups(keys, s)  # shaping and variance of the rewards served
            metrics.slow_items.inc(int(judged.slow.sum()))
        for v, flat in zip(g.variance, g.flat):
            if v == v:
                metrics.group_variance.observe(float(v))
            metrics.flat_groups.inc(int(flat))
        items = [
            {"reward": r, "std": sd, "confidence": c, "slow": False, "tokens": int(t)}
            for r, sd, c, t in zip(finite_or_none(s.reward), finite_or_none(s.std), finite_or_none(g.confidence), s.tokens.tolist())
        ]
        if judged is not None:
            for i in map(int, judged.slow.nonzero()[0]):
                items[i].update(slow=True, verdict=int(judged.verdict[i]), reference=int(judged.reference[i]))
        groups = [
            {"group": key, "items": rows.tolist(), "shaped": finite_or_none(shaped), "variance": var, "flat": bool(flat)}
            for key, rows, shaped, var, flat in zip(g.keys, g.members, g.shaped, finite_or_none(g.variance), g.flat)
        ]
        return {"items": items, "groups": groups, "aggregate": scorer.rules.aggregate, "shaping": scorer.rules.shaping}

    async def health(request: Request) -> dict:
        return {"status": "ok", "members": len(scorer.model.members), "embedders": scorer.model.embedders,
                "aggregate": scorer.rules.aggregate, "shaping": scorer.rules.shaping,
                "slow_rate": slow_route.slow_rate if slow_route is not None else 0.0,
                "queue_items": state["batcher"].queued_items}

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        err = RequestError(exc.status_code, "path", f"{request.method} {request.url.path}: {exc.detail}")
        return JSONResponse(err.body(), exc.status_code, headers=dict(exc.headers or {}))

    @asynccontextmanager
    async def lifespan(app: Starlette):
        batcher: MicroBatcher[tuple[str, str]] = MicroBatcher(
            score_items, max_batch=config.max_batch, max_wait_s=config.max_wait_ms / 1000, max_queue=config.max_queue,
            on_batch=metrics.batch_items.observe)
        state["batcher"] = batcher
        metrics.queue_items.set_function(lambda: batcher.queued_items)
        batcher.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await batcher.close()
            judge_thread.shutdown(wait=True)

    routes = [
        Route("/get_reward", endpoint("get_reward", get_reward), methods=["POST"]),
        Route("/score", endpoint("score", score), methods=["POST"]),
        Route("/health", endpoint("health", health), methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})


__all__ = ["ServeConfig", "create_app", "read_body"]
