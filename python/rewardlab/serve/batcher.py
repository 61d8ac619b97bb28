"""Dynamic batching: the items of concurrent requests coalesced into one model call.

OpenRLHF sends one query per request during rollouts; a model call per request would leave the
embedder running batches of one. Requests wait in a bounded FIFO queue; whenever the scoring
thread is free it takes whole requests from the front until ``max_batch`` items (always at least
one request, so a large request is scored alone, in the embedder's own batches), after waiting up
to ``max_wait`` for more when fewer are queued. The model runs in one worker thread, so the event
loop keeps accepting and answering requests while a batch is scored (torch and the Rust kernels
release the GIL).
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")


class QueueFull(Exception):
    """The queue holds ``max_queue`` items already: the request is refused, not queued."""


@dataclass
class _Job(Generic[Item]):
    items: Sequence[Item]
    future: asyncio.Future = field(repr=False)


class MicroBatcher(Generic[Item]):
    """Runs ``score(items) -> result`` on batches of queued requests' items; ``result[a:b]`` must
    be the result of items ``a..b`` (each request gets its own slice back)."""

    def __init__(self, score: Callable[[list[Item]], Any], *, max_batch: int, max_wait_s: float, max_queue: int,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.score, self.max_batch, self.max_wait_s, self.max_queue = score, max_batch, max_wait_s, max_queue
        self.on_batch = on_batch
        self._jobs: deque[_Job[Item]] = deque()
        self.queued_items = 0
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rewardlab-score")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Starts the batching loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stops the loop (queued requests fail) and the scoring thread."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is shutting down"))
        self._executor.shutdown(wait=True)

    async def submit(self, items: Sequence[Item]) -> Any:
        """The result of ``items``, scored in whatever batch they join. Raises :class:`QueueFull`
        when they would take the queue past ``max_queue`` items."""
        if self.queued_items + len(items) > self.max_queue:
            raise QueueFull(f"{self.queued_items} items queued, the limit is {self.max_queue}")
        job = _Job(items, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self.queued_items += len(items)
        self._wake.set()
        return await job.future

    def _take(self) -> list[_Job[Item]]:
        batch: list[_Job[Item]] = []
        size = 0
        while self._jobs:
            job = self._jobs[0]
            if job.future.done():  # its client went away (the request was cancelled)
                self._jobs.popleft()
                self.queued_items -= len(job.items)
                continue
            if batch and size + len(job.items) > self.max_batch:
                break
            self._jobs.popleft()
            self.queued_items -= len(job.items)
            batch.append(job)
            size += len(job.items)
        return batch

    async def _wait_for_more(self) -> None:
        """Waits up to ``max_wait_s`` while fewer than ``max_batch`` items are queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while self.queued_items < self.max_batch and (left := deadline - loop.time()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                return

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            if self.max_wait_s > 0:
                await self._wait_for_more()
            batch = self._take()
            if not batch:
                continue
            items = [item for job in batch for item in job.items]
            if self.on_batch is not None:
                self.on_batch(len(items))
            try:
                result = await loop.run_in_executor(self._executor, self.score, items)
            except Exception as err:  # the whole batch failed: each of its requests says why
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            at = 0
            for job in batch:
                if not job.future.done():
                    job.future.set_result(result[at : at + len(job.items)])
                at += len(job.items)
