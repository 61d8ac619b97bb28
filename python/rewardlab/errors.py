"""Exceptions raised by rewardlab.

``InvalidInputError`` subclasses ``ValueError``; its message starts with the name of the
argument at fault and says what was wrong with it. The Rust kernels raise the same class.
"""

from rewardlab._core import InvalidInputError

__all__ = ["InvalidInputError"]


def invalid(arg: str, reason: str) -> InvalidInputError:
    """The error for argument ``arg``, in the same ``"arg: reason"`` form the kernels use."""
    return InvalidInputError(f"{arg}: {reason}")
