"""Where the embedding stage runs: in this process, or on a Ray cluster through Ray Data.

One stage, two executors. :class:`EmbedStage` is what runs on a worker: a callable class, so
that Ray Data's ``map_batches`` builds one per actor and each actor loads its model once; it
calls the same batching code (``_embed_all``) that ``embed_texts`` runs in this process. :class:`RayExecutor` runs it on Ray Data: ``concurrency`` actors,
with ``num_cpus``/``num_gpus`` each. Vectors stream back as actors finish batches, and the driver
commits them to the embedding cache as they arrive, so a killed run keeps what was done.

The CLI's ``--ray [ADDRESS]`` sets the process default (:func:`set_default`); ``embed_texts``
takes ``executor=`` explicitly too. Ray is an optional extra (``pip install 'rewardlab[ray]'``),
imported only when a Ray executor runs. ``rewardlab.models.ray_scoring`` does the same for
whole reward models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from rewardlab.errors import invalid


class EmbedStage:
    """Embeds a batch ``{"index", "text"}`` into ``{"index", "vector"}`` with the embedder ``spec``,
    placed by ``device``/``dtype`` where the stage runs (``auto`` resolves on the worker)."""

    def __init__(self, spec: str, device: str | None = None, dtype: str | None = None, batch_size: int = 64,
                 max_batch_tokens: int | None = None, expect_id: str | None = None) -> None:
        from rewardlab.embed import get_embedder

        self.embedder = get_embedder(spec, device=device, dtype=dtype)
        if expect_id is not None and self.embedder.id != expect_id:
            # its vectors would be cached under the driver's id: refused, never mixed
            raise invalid("embedder", f"the worker's {spec} is {self.embedder.id!r}, the driver's {expect_id!r}; "
                                      "install the same versions on both, or set --dtype explicitly")
        self.batch_size, self.max_batch_tokens = batch_size, max_batch_tokens

    def __call__(self, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        from rewardlab.embed import _embed_all

        texts = [str(t) for t in batch["text"]]
        vectors = _embed_all(self.embedder, texts, self.batch_size, False, max_batch_tokens=self.max_batch_tokens)
        return {"index": np.asarray(batch["index"], np.int64), "vector": vectors}


@dataclass
class RayExecutor:
    """Runs a stage on Ray Data: ``workers`` actors of ``num_cpus``/``num_gpus`` each, over rows
    of ``rows_per_batch`` texts. ``address``: a cluster (``ray://…``, ``host:port``), or None for
    ``RAY_ADDRESS`` or else a local instance (what ``ray.init()`` does). ``init`` passes more
    arguments to ``ray.init``."""

    address: str | None = None
    workers: int = 2
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    rows_per_batch: int = 256
    init: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise invalid("workers", f"must be at least 1, got {self.workers}")
        if self.rows_per_batch < 1:
            raise invalid("rows_per_batch", f"must be at least 1, got {self.rows_per_batch}")
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise invalid("num_gpus" if self.num_gpus < 0 else "num_cpus", "must be >= 0")

    def _ray(self):
        try:
            import ray
        except ImportError as err:
            raise invalid("ray", f"the Ray executor needs Ray Data: pip install 'rewardlab[ray]' ({err})") from None
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, **self.init)
        import logging

        ctx = ray.data.DataContext.get_current()  # rewardlab draws its own progress bar
        ctx.enable_progress_bars = ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        return ray

    def run(self, stage: type, kwargs: dict, texts: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The stage's output batches, as the actors produce them (in no fixed order)."""
        ray = self._ray()
        blocks = max(1, -(-len(texts) // self.rows_per_batch))
        ds = ray.data.from_items([{"index": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=blocks)
        out = ds.map_batches(stage, fn_constructor_kwargs=kwargs, batch_size=self.rows_per_batch,
                             compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=self.num_cpus,
                             num_gpus=self.num_gpus, batch_format="numpy")
        yield from out.iter_batches(batch_size=None, batch_format="numpy")


_default: RayExecutor | None = None


def set_default(executor: RayExecutor | None) -> None:
    """The executor ``embed_texts`` uses when given none (None: in this process, as always)."""
    global _default
    _default = executor


def default() -> RayExecutor | None:
    return _default


def stage_kwargs(embedder: Any, batch_size: int, max_batch_tokens: int | None) -> dict[str, Any]:
    """What a worker needs to build the driver's embedder: its spec, the precision the driver's
    id names (a GPU worker's ``auto`` would differ from a CPU driver's), and that id to check."""
    from rewardlab.devices import default

    tag = embedder.id.rsplit("|", 1)[-1]
    return {"spec": embedder.name, "device": default().device,
            "dtype": tag if tag in ("bfloat16", "float16") else "float32", "batch_size": batch_size,
            "max_batch_tokens": max_batch_tokens, "expect_id": embedder.id}
