"""The service's Prometheus metrics (prometheus_client, one registry per app so that several
servers in one process never share counters).

Rates are left to PromQL, e.g. the slow-path rate is
``rate(rewardlab_slow_items_total[5m]) / rate(rewardlab_items_total[5m])`` and the mean
within-group reward variance ``rewardlab_group_reward_variance_sum / rewardlab_group_reward_variance_count``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class ServeMetrics:
    """Requests, latency, batches, queue depth, slow path and the teacher diagnostic."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("rewardlab_requests", "HTTP requests answered", ["endpoint", "status"], registry=r)
        self.latency = Histogram("rewardlab_request_seconds", "Time from request to answer", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch_items = Histogram("rewardlab_batch_items", "Items per model batch", buckets=BATCH_BUCKETS, registry=r)
        self.queue_items = Gauge("rewardlab_queue_items", "Items waiting for a batch", registry=r)
        self.items = Counter("rewardlab_items", "Items scored", registry=r)
        self.slow_items = Counter("rewardlab_slow_items", "Items sent to the slow judge", registry=r)
        self.group_variance = Summary("rewardlab_group_reward_variance",
                                      "Within-group reward variance of groups of 2 or more", registry=r)
        self.flat_groups = Counter("rewardlab_flat_groups", "Groups whose reward variance is under --flat-var", registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
