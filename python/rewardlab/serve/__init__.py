"""Reward models as a service for RL trainers: ``rewardlab serve``.

>>> from rewardlab.serve import RewardScorer, ServeConfig, run_server
>>> run_server(RewardScorer.load("my-rm"), ServeConfig(max_batch=64), port=8000)  # doctest: +SKIP

Endpoints: ``POST /get_reward`` (OpenRLHF's remote reward protocol), ``POST /score`` (native:
items with optional groups; per item reward, ensemble std, confidence, tokens; per group the
shaped rewards and the reward variance, flagged when flat), ``GET /health``, ``GET /metrics``
(Prometheus). Concurrent requests are batched (:mod:`.batcher`); see ``docs/serve.md``.
The HTTP parts need the ``serve`` extra (Starlette, uvicorn, pydantic, prometheus-client);
:class:`RewardScorer` does not, and the trainer integrations use it in-process. Names load on
first use.
"""
from typing import TYPE_CHECKING

from rewardlab._utils.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time the names load on first use
    from rewardlab.serve.app import ServeConfig as ServeConfig, create_app as create_app
    from rewardlab.serve.scorer import SERVE_SHAPINGS as SERVE_SHAPINGS, BatchScores as BatchScores, GroupScores as GroupScores, RewardScorer as RewardScorer, ServeRules as ServeRules
    from rewardlab.serve.slow_route import SlowResult as SlowResult, SlowRoute as SlowRoute
    from rewardlab.serve.server import bind as bind, is_loopback as is_loopback, ready_line as ready_line, run_server as run_server

_WHERE = {
    **dict.fromkeys(["ServeConfig", "create_app"], "rewardlab.serve.app"),
    **dict.fromkeys(["SERVE_SHAPINGS", "BatchScores", "GroupScores", "RewardScorer", "ServeRules"], "rewardlab.serve.scorer"),
    **dict.fromkeys(["bind", "is_loopback", "ready_line", "run_server"], "rewardlab.serve.server"),
    **dict.fromkeys(["SlowResult", "SlowRoute"], "rewardlab.serve.slow_route"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
