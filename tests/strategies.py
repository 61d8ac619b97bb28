"""Hypothesis strategies for token batches: padded with holes, ragged with empty rows, groups of
any size in any order (singletons and constant groups included)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def padded_batch(draw, min_rows=1, max_rows=9, max_len=10, holes=True, dtype=None):
    # up to 9 rows: the scans interleave rows four at a time, so two full groups and a remainder
    b = draw(st.integers(min_rows, max_rows))
    t = draw(st.integers(1, max_len))
    dt = dtype or draw(DTYPES)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(b, t)).astype(dt)
    v = rng.normal(size=(b, t)).astype(dt)
    lengths = rng.integers(0, t + 1, size=b)
    m = (np.arange(t)[None, :] < lengths[:, None])
    # half the batches right-padded only (the scans' split path), half with holes (the general loop)
    if holes and draw(st.booleans()):
        m = m & (rng.random((b, t)) > 0.25)
    mask_dtype = draw(st.sampled_from([np.bool_, np.int64, np.float32, np.int32, np.uint8]))
    return r, v, m.astype(mask_dtype)


@st.composite
def group_ids(draw, n):
    kind = draw(st.sampled_from(["str", "int", "contiguous"]))
    n_groups = draw(st.integers(1, max(1, n)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_groups, size=n)
    if kind == "contiguous":
        return np.sort(codes).astype(np.int64)
    if kind == "str":
        return np.array([f"uid-{c}" for c in codes], dtype=object)
    return codes.astype(np.int64) * 7 - 3


@st.composite
def outcome_scores(draw, n):
    """Scores with ties and constant groups likely (small discrete set), sometimes continuous."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        return rng.choice([0.0, 0.35, 1.0], size=n)
    return rng.normal(size=n)
