"""Calling a running ``rewardlab serve`` from a trainer: one ``POST /score`` per batch, standard
library only (a trainer process need not install the server's dependencies)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Sequence

from rewardlab.errors import invalid

__all__ = ["none_as_nan", "score_endpoint", "score_remote"]


def none_as_nan(value: Any) -> float:
    """A number of the server's answer as a float: the server writes a non-finite number as null."""
    return float("nan") if value is None else float(value)


def score_endpoint(url: Any) -> str:
    """The ``/score`` URL of the server at ``url`` (``http://host:port``); anything else is an error."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("url", f"expected an http(s) URL of a rewardlab server, got {url!r}")
    return url.rstrip("/") + "/score"


def score_remote(endpoint: str, prompts: Sequence[str], responses: Sequence[str], groups: Sequence[Any] | None = None,
                 *, timeout: float = 300.0, retries: int = 5) -> dict:
    """The server's ``/score`` answer for these items. A full server (503) is retried after its
    ``Retry-After`` up to ``retries`` times; any other refusal raises ``RuntimeError`` with the
    field the server named, and so does a server that cannot be reached."""
    keys = list(groups) if groups is not None else [None] * len(prompts)
    body = json.dumps({"items": [{"prompt": p, "response": r, "group": g}
                                 for p, r, g in zip(prompts, responses, keys)]}).encode("utf-8")
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={"Content-Type": "application/json"})
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            if err.code == 503 and attempt < retries:
                time.sleep(float(err.headers.get("Retry-After", "1") or 1))
                continue
            try:
                reason = json.loads(err.read().decode("utf-8"))["error"]
                detail = f"{reason['field']}: {reason['message']}"
            except (ValueError, KeyError, TypeError):
                detail = str(err.reason)
            raise RuntimeError(f"the reward server at {endpoint} answered {err.code} ({detail})") from None
        except urllib.error.URLError as err:
            raise RuntimeError(f"cannot reach the reward server at {endpoint}: {err.reason}") from None
    raise AssertionError("unreachable")
