"""MicroBatcher on its own: batch sizes, order, slices, failures and the queue bound."""

import asyncio

import pytest

from rewardlab.serve.batcher import MicroBatcher, QueueFull


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_batches_up_to_max_batch_in_order():
    calls = []

    def score(items):
        calls.append(list(items))
        return [x * 10 for x in items]

    async def go():
        b = MicroBatcher(score, max_batch=5, max_wait_s=0.05, max_queue=100)
        b.start()
        results = await asyncio.gather(*(b.submit([i, i + 100]) for i in range(6)))
        await b.close()
        return results

    results = run(go())
    assert results == [[i * 10, (i + 100) * 10] for i in range(6)]  # each request gets its own slice
    assert [len(c) for c in calls] == [4, 4, 4]  # whole requests, at most 5 items, in arrival order
    assert [x for c in calls for x in c] == [x for i in range(6) for x in (i, i + 100)]


def test_a_request_larger_than_max_batch_is_scored_alone():
    calls = []

    async def go():
        b = MicroBatcher(lambda items: calls.append(len(items)) or list(items), max_batch=4, max_wait_s=0.0, max_queue=100)
        b.start()
        out = await asyncio.gather(b.submit(list(range(9))), b.submit([1]))
        await b.close()
        return out

    assert run(go()) == [list(range(9)), [1]]
    assert calls == [9, 1]


def test_a_failing_batch_fails_its_own_requests_only():
    def score(items):
        if "boom" in items:
            raise ValueError("bad batch")
        return list(items)

    async def go():
        b = MicroBatcher(score, max_batch=1, max_wait_s=0.0, max_queue=100)
        b.start()
        out = await asyncio.gather(b.submit(["boom"]), b.submit(["fine"]), return_exceptions=True)
        await b.close()
        return out

    bad, good = run(go())
    assert isinstance(bad, ValueError) and good == ["fine"]


def test_the_queue_bound_refuses_instead_of_queueing():
    async def go():
        release = asyncio.Event()
        b = MicroBatcher(lambda items: list(items), max_batch=10, max_wait_s=5.0, max_queue=3)
        b.start()
        waiting = asyncio.ensure_future(b.submit([1, 2]))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull):
            await b.submit([3, 4])
        assert b.queued_items == 2
        release.set()
        await b.close()  # the waiting request fails: the server is shutting down
        with pytest.raises(RuntimeError, match="shutting down"):
            await waiting

    run(go())


def test_a_cancelled_request_is_dropped_from_the_queue():
    calls = []

    async def go():
        b = MicroBatcher(lambda items: calls.append(list(items)) or list(items), max_batch=10, max_wait_s=0.2, max_queue=10)
        b.start()
        gone = asyncio.ensure_future(b.submit(["gone"]))
        await asyncio.sleep(0.02)
        gone.cancel()
        kept = await b.submit(["kept"])
        await b.close()
        return kept

    assert run(go()) == ["kept"]
    assert calls == [["kept"]]
