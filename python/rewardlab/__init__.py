"""rewardlab: reward models without a GPU farm.

The hot paths live in a Rust core (``rewardlab._core``); this package is the user-facing API.
"""

from rewardlab._core import __version__
from rewardlab.errors import InvalidInputError

__all__ = ["__version__", "InvalidInputError"]
