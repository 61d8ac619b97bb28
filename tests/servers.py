"""Starting ``rewardlab serve`` for real (a subprocess on 127.0.0.1, a free port) and calling it
with a plain HTTP client (urllib)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: str  # the file its stderr goes to

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        with open(self.log, encoding="utf-8") as fh:
            return fh.read()


def start(model, *args: str, timeout: float = 180) -> Server:
    """A server for ``model``, ready to answer (its ``--json`` ready line has been read)."""
    log = tempfile.NamedTemporaryFile("w", prefix="rewardlab-serve-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "rewardlab.cli", "serve", "--model", str(model), "--port", "0", "--json", "--quiet", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=os.environ.copy())
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the server did not start: {open(log.name, encoding='utf-8').read()}")
    return Server(proc, json.loads(line[0])["url"], log.name)


def request(url: str, path: str, body: bytes | dict | None = None, *, method: str | None = None,
            headers: dict | None = None, timeout: float = 120) -> tuple[int, dict | str, Any]:
    """``(status, parsed JSON body or text, headers)`` (headers: case-insensitive); errors are answers
    too, not exceptions."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw, head = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, raw, head = err.code, err.read(), err.headers
    text = raw.decode("utf-8")
    try:
        return status, json.loads(text), head
    except ValueError:
        return status, text, head
