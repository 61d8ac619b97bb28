"""Bad requests, overload, disconnects and signals: each gets a clear JSON answer, and what the
server answers afterwards is what it answered before."""

import http.client
import signal
import socket
import sqlite3
import threading
import time
from urllib.parse import urlparse

import numpy as np
import pytest

from rewardlab.cli import main
from rewardlab.data.pairs import dialogue_text
from rewardlab.models import RewardModel

from servers import request, start

REFERENCE = {"query": ["\n\nHuman: Is tea good for you?\n\nAssistant: In moderation, yes."],
             "prompts": ["\n\nHuman: Is tea good for you?\n\nAssistant:"]}

BAD = [  # (path, body, status, field)
    ("/get_reward", b"{not json", 400, "body"),
    ("/get_reward", b"", 400, "body"),
    ("/get_reward", b'{"query": ["\xff\xfe"], "prompts": [""]}', 400, "body"),  # not UTF-8
    ("/get_reward", b'{"query": ["\\ud800"], "prompts": [""]}', 400, "body"),  # a lone surrogate
    ("/get_reward", b'[1, 2]', 422, "body"),
    ("/get_reward", b'{"query": [1], "prompts": ["a"]}', 422, "query[0]"),
    ("/get_reward", b'{"query": ["ab"]}', 422, "prompts"),
    ("/get_reward", b'{"query": ["ab", "cd"], "prompts": ["a"]}', 422, "prompts"),
    ("/get_reward", b'{"query": ["ab", "cd"], "prompts": ["a", "x"]}', 422, "query[1]"),
    ("/get_reward", b'{"query": ["ab"], "prompts": ["a"], "labels": [1, 2]}', 422, "labels"),
    ("/score", b'{"items": [{"prompt": "a", "response": "b", "grp": 1}]}', 422, "items[0].grp"),
    ("/score", b'{"items": [{"prompt": "a", "response": "b", "group": true}]}', 422, "items[0].group"),
    ("/score", b'{"items": [{"prompt": "a"}]}', 422, "items[0].response"),
    ("/score", b'{"items": "all of them"}', 422, "items"),
]


@pytest.mark.parametrize("path,body,status,field", BAD, ids=[f"{p}:{b[:30]!r}" for p, b, _, _ in BAD])
def test_bad_requests_get_a_json_error_naming_the_field_and_change_nothing(server, path, body, status, field):
    before = request(server.url, "/get_reward", REFERENCE)[:2]
    got_status, got, _ = request(server.url, path, body)
    assert (got_status, got["error"]["field"], got["error"]["status"]) == (status, field, status), got
    assert got["error"]["message"]
    assert request(server.url, "/get_reward", REFERENCE)[:2] == before


def test_unknown_paths_and_methods_answer_json(server):
    status, body, _ = request(server.url, "/nowhere")
    assert status == 404 and body["error"]["field"] == "path"
    status, body, _ = request(server.url, "/get_reward", method="GET")
    assert status == 405 and body["error"]["field"] == "path"


def test_empty_strings_are_scored_like_offline(server, model_dir):
    """A policy may answer nothing at all; the trainer still needs a reward for it."""
    status, body, _ = request(server.url, "/get_reward", {"query": ["", "Hi"], "prompts": ["", "Hi"]})
    assert status == 200
    model = RewardModel.load(model_dir)
    want = model.score_texts([dialogue_text("", ""), dialogue_text("Hi", "")], progress=False).mean(axis=0)
    np.testing.assert_allclose(body["rewards"], want, atol=1e-5)


def test_ten_thousand_items_in_one_request(server, model_dir):
    prompts = [f"\n\nHuman: question {i}?\n\nAssistant:" for i in range(10_000)]
    queries = [p + f" answer {i % 97} " * (1 + i % 5) for i, p in enumerate(prompts)]
    status, body, _ = request(server.url, "/get_reward", {"query": queries, "prompts": prompts})
    assert status == 200 and len(body["rewards"]) == 10_000
    model = RewardModel.load(model_dir)
    pick = [0, 1, 4321, 9999]
    want = model.score_texts([dialogue_text(prompts[i], queries[i][len(prompts[i]):]) for i in pick], progress=False)
    np.testing.assert_allclose(np.array(body["rewards"])[pick], want.mean(axis=0), atol=1e-5)


def test_body_size_limit_with_and_without_content_length(model_dir):
    s = start(model_dir, "--max-body-mb", "0.01")  # 10 KiB
    try:
        big = {"query": ["x" * 20_000], "prompts": [""]}
        status, body, _ = request(s.url, "/get_reward", big)
        assert status == 413 and body["error"]["field"] == "body"
        u = urlparse(s.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        chunks = (b'{"query": ["' + b"y" * 4096, *(b"y" * 4096 for _ in range(5)), b'"], "prompts": [""]}')
        conn.request("POST", "/get_reward", body=iter(chunks), encode_chunked=True)  # no Content-Length
        resp = conn.getresponse()
        assert resp.status == 413 and b'"body"' in resp.read()
        conn.close()
        assert request(s.url, "/get_reward", REFERENCE)[0] == 200
    finally:
        s.stop()


def test_a_full_queue_answers_503_with_retry_after_and_a_too_large_request_413(model_dir):
    s = start(model_dir, "--max-queue", "4", "--max-wait-ms", "4000")
    try:
        first: list = []
        items = [{"prompt": "a", "response": f"r{i}"} for i in range(3)]
        t = threading.Thread(target=lambda: first.append(request(s.url, "/score", {"items": items})))
        t.start()
        time.sleep(1.0)  # the 3 items wait up to 4 s for more: the queue holds 3 of 4
        status, body, head = request(s.url, "/score", {"items": items[:2]})
        assert status == 503 and body["error"]["field"] == "queue" and head["Retry-After"] == "1"
        t.join(60)
        assert first[0][0] == 200 and len(first[0][1]["items"]) == 3
        status, body, _ = request(s.url, "/score", {"items": items * 2})
        assert status == 413 and body["error"]["field"] == "items"
    finally:
        s.stop()


def test_clients_that_disconnect_mid_request_leave_the_server_serving(server):
    before = request(server.url, "/get_reward", REFERENCE)[:2]
    u = urlparse(server.url)
    for payload in (
        b'POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"query": ["ab',
        b'POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 66\r\n\r\n{"items": [{"prompt": "a", "response": "b"}, {"prompt": "c", "response": "d"}]}',
        b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
    ):
        with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
            sock.sendall(payload)
        # closed without reading an answer
    time.sleep(0.5)
    assert request(server.url, "/health")[0] == 200
    assert request(server.url, "/get_reward", REFERENCE)[:2] == before


def test_sigterm_lets_the_request_in_flight_finish(model_dir):
    s = start(model_dir, "--max-wait-ms", "3000")
    answers: list = []
    t = threading.Thread(target=lambda: answers.append(request(s.url, "/get_reward", REFERENCE)))
    t.start()
    time.sleep(1.0)  # the request waits in its batch for 3 s
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert answers and answers[0][0] == 200 and len(answers[0][1]["rewards"]) == 1
    assert s.proc.wait(60) == 0


def test_the_embedding_cache_survives_kill_9_mid_write(model_dir, tmp_path):
    cache = tmp_path / "cache"
    prompts = [f"\n\nHuman: kill test {i}\n\nAssistant:" for i in range(16_000)]
    body = {"query": [p + f" reply {i}" for i, p in enumerate(prompts)], "prompts": prompts}
    s = start(model_dir, "--cache-dir", str(cache))
    def doomed():
        try:
            request(s.url, "/get_reward", body, timeout=60)
        except ConnectionError:  # the server is killed mid-request: that is the point
            pass

    t = threading.Thread(target=doomed, daemon=True)
    t.start()
    written = 0
    for _ in range(600):  # kill as soon as the first chunks are written: later ones are in flight
        time.sleep(0.05)
        if dbs := list(cache.rglob("embeddings.sqlite")):
            try:
                with sqlite3.connect(dbs[0], timeout=5) as conn:
                    written = conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            except sqlite3.OperationalError as err:  # the file exists before its tables do
                if "no such table" not in str(err):
                    raise
            if written:
                break
    s.stop(signal.SIGKILL)
    assert 0 < written < len(prompts)
    [db] = list(cache.rglob("embeddings.sqlite"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s = start(model_dir, "--cache-dir", str(cache))
    try:
        sample = {"query": body["query"][:50] + body["query"][-50:], "prompts": prompts[:50] + prompts[-50:]}
        status, got, _ = request(s.url, "/get_reward", sample)
        assert status == 200
        assert "unreadable" not in s.stderr()
        model = RewardModel.load(model_dir)
        texts = [dialogue_text(p, q[len(p):]) for p, q in zip(sample["prompts"], sample["query"])]
        np.testing.assert_allclose(got["rewards"], model.score_texts(texts, progress=False, cache_dir=False).mean(axis=0),
                                   atol=1e-5)
    finally:
        s.stop()


def test_cli_refuses_bad_settings_with_exit_2_naming_them(model_dir, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        assert main(["serve", "--model", str(model_dir), "--port", str(taken.getsockname()[1]), "--quiet"]) == 2
        assert "port" in capsys.readouterr().err
    finally:
        taken.close()
    for args, word in ((["--max-body-mb", "0"], "max_body_mb"), (["--max-wait-ms", "-1"], "max_wait_ms"),
                       (["--beta", "0", "--shaping", "stackelberg"], "beta"), (["--lam", "nan"], "lam")):
        assert main(["serve", "--model", str(model_dir), "--quiet", *args]) == 2
        assert word in capsys.readouterr().err
    assert main(["serve", "--model", "/nonexistent/rm", "--quiet"]) == 2
