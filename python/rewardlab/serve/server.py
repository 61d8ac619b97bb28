"""Running the service: the listening socket, uvicorn, and the ready line."""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Callable

from rewardlab.errors import invalid
from rewardlab.serve.app import ServeConfig, create_app
from rewardlab.serve.scorer import RewardScorer

if TYPE_CHECKING:
    from rewardlab.serve.slow_route import SlowRoute

__all__ = ["bind", "is_loopback", "ready_line", "run_server"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), or a clear error."""
    if not 0 <= port <= 65535:
        raise invalid("port", f"must be in 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise invalid("host", f"cannot resolve {host!r}: {err}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise invalid("port", f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(scorer: RewardScorer, config: ServeConfig | None = None, *, host: str = "127.0.0.1", port: int = 8000,
               on_ready: Callable[[str], None] | None = None, slow_route: "SlowRoute | None" = None) -> None:
    """Serves until SIGINT or SIGTERM (requests in flight finish first). ``on_ready(url)`` is
    called once requests are accepted."""
    import uvicorn

    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{'[' + bound_host + ']' if ':' in bound_host else bound_host}:{bound_port}"
    if not is_loopback(host):
        print(f"rewardlab serve: listening on {host}, beyond this machine; the service has no authentication "
              "(see docs/serve.md)", file=sys.stderr)
    app = create_app(scorer, config, on_ready=(lambda: on_ready(url)) if on_ready else None, slow_route=slow_route)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it
        # found: that handler makes the finished shutdown exit with status 0, not "killed by SIGTERM".
        signal.signal(signal.SIGTERM, _stopped)
    server.run(sockets=[sock])


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def ready_line(url: str, scorer: RewardScorer, config: ServeConfig) -> str:
    """The JSON line ``rewardlab serve --json`` prints on stdout once it accepts requests."""
    return json.dumps({"event": "ready", "url": url, "get_reward": f"{url}/get_reward", "members": len(scorer.model.members),
                       "aggregate": scorer.rules.aggregate, "shaping": scorer.rules.shaping, "max_batch": config.max_batch})
