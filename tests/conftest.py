import os
import sys

from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))  # refs.py, strategies.py, reference_stacks.py

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=120, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")
