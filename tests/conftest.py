import os
import sys
import tempfile

from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))  # refs.py, strategies.py, reference_stacks.py

# Embedding cache and de-quantised models go to a throwaway folder, not the user's ~/.cache.
os.environ.setdefault("REWARDLAB_CACHE", tempfile.mkdtemp(prefix="rewardlab-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=120, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")
