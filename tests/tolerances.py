import numpy as np


def assert_close(actual, expected, dtype, *, scale=1.0):
    """float32 results against a float64 reference: float32 rounding; float64: near-exact."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.dtype(dtype) == np.float32:
        np.testing.assert_allclose(actual, expected, rtol=2e-4, atol=2e-5 * scale)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-10 * scale)
