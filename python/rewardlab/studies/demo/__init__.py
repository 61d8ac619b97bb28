"""``rewardlab demo``: the reward-model section (:mod:`.run`), then best-of-N and teacher
diagnostics (:mod:`.alignment`), fast-slow judging (:mod:`.judge`) and RREDCoT credit maps
(:mod:`.credit`), written to one HTML and JSON report."""

from rewardlab.studies.demo.run import run_demo

__all__ = ["run_demo"]
