"""The Python client against a live gateway built from this checkout.

setUpModule builds the server (go build) and starts `serve` in dev mode on a loopback port with a
temporary SQLite database; every test talks to it, some through a loopback proxy that injects errors.
"""

import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Tuple

CLIENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(CLIENT_DIR))
sys.path.insert(0, CLIENT_DIR)

from memory_gateway import (  # noqa: E402
    SERVER_VERSIONS,
    MemoryGateway,
    MemoryGatewayError,
    RetryPolicy,
    Turn,
    __version__,
    server_version_supported,
)

START_TIMEOUT_SECONDS = 60
SERVING = '"msg":"memory-gateway: serving","addr":"'


class Gateway:
    """A `memory-gateway serve` process and the address it listens on."""

    def __init__(self, binary: str, workdir: str, env: Optional[Dict[str, str]] = None) -> None:
        full_env = dict(os.environ)
        full_env.update({
            "DATABASE_URL": "file:" + os.path.join(workdir, "gateway.db"),
            "LISTEN_ADDR": "127.0.0.1:0",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            # The erasure's grace is the longest ingest bound plus a second: keep it short.
            "BACKEND_TIMEOUT": "1s",
        })
        full_env.update(env or {})
        self.process = subprocess.Popen([binary, "serve"], env=full_env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.log: List[str] = []
        addr: "queue.Queue[str]" = queue.Queue()

        def read_log() -> None:
            assert self.process.stderr is not None
            for raw in self.process.stderr:
                line = raw.decode("utf-8", "replace")
                self.log.append(line)
                if SERVING in line:
                    addr.put(line.split(SERVING, 1)[1].split('"', 1)[0])
            addr.put("")  # the process ended

        threading.Thread(target=read_log, daemon=True).start()
        try:
            self.addr = addr.get(timeout=START_TIMEOUT_SECONDS)
        except queue.Empty:
            self.addr = ""
        if not self.addr:
            self.stop()
            raise RuntimeError("the gateway did not start:\n" + "".join(self.log))
        self.url = "http://" + self.addr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_tmp = ""
_binary = ""
gateway: Gateway


def setUpModule() -> None:
    global _tmp, _binary, gateway
    # Tests reach loopback only, never through a proxy from the environment.
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    _tmp = tempfile.mkdtemp(prefix="mg-python-client-")
    _binary = os.path.join(_tmp, "mg")
    subprocess.run(["go", "build", "-o", _binary, "."], cwd=REPO_ROOT, check=True)
    gateway = Gateway(_binary, os.path.join(_tmp, "dev"))


def tearDownModule() -> None:
    gateway.stop()
    shutil.rmtree(_tmp, ignore_errors=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(url: Optional[str] = None, **kwargs: Any) -> MemoryGateway:
    kwargs.setdefault("workspace_id", "acme")
    kwargs.setdefault("user_id", unique("user"))
    kwargs.setdefault("agent_id", "helper")
    kwargs.setdefault("namespace", "notes")
    return MemoryGateway(url or gateway.url, **kwargs)


class InjectingProxy:
    """A loopback HTTP proxy in front of the gateway: it answers the queued injections first, then
    forwards requests; it records every request's headers."""

    def __init__(self, upstream: str) -> None:
        self.injections: "queue.Queue[Tuple[int, str, bytes]]" = queue.Queue()
        self.requests: List[Dict[str, str]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                proxy.requests.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    status, content_type, answer = proxy.injections.get_nowait()
                except queue.Empty:
                    forward = urllib.request.Request(upstream + self.path, data=body, method="POST", headers={
                        k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                    })
                    with urllib.request.urlopen(forward, timeout=30) as resp:
                        status, content_type, answer = resp.status, resp.headers.get("Content-Type", ""), resp.read()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def inject(self, extensions: Dict[str, Any], *, sse: bool = False) -> None:
        error = {"errors": [{"message": "injected", "extensions": extensions}], "data": None}
        if sse:
            body = ("event: next\ndata: " + json.dumps(error) + "\n\nevent: complete\ndata: \n\n").encode()
            self.injections.put((200, "text/event-stream", body))
        else:
            self.injections.put((200, "application/json", json.dumps(error).encode()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class IngestTest(unittest.TestCase):
    def test_ingest_turn_then_the_same_turn_is_a_replay(self) -> None:
        mg = client()
        session = unique("s")
        first = mg.ingest_turn(session_id=session, turn_id="t1", content="I drink green tea every morning")
        self.assertEqual(first["status"], "SUCCESS")
        self.assertFalse(first["replayed"])
        self.assertEqual([r["backend"] for r in first["refs"]], ["LOCAL"])
        self.assertTrue(first["gatewayId"].startswith("gw_"))
        again = mg.ingest_turn(session_id=session, turn_id="t1", content="I drink green tea every morning")
        self.assertTrue(again["replayed"])
        self.assertEqual(again["gatewayId"], first["gatewayId"])

    def test_ingest_turns_answers_each_turn_and_one_bad_turn_fails_alone(self) -> None:
        mg = client()
        session = unique("s")
        results = mg.ingest_turns([
            Turn(session_id=session, turn_id="t1", content="I grow tomatoes"),
            Turn(session_id=session, turn_id="t2", content="   ", role="ASSISTANT"),
            Turn(session_id=session, turn_id="t3", content="and basil", role="USER"),
        ])
        self.assertEqual(len(results), 3)
        self.assertEqual(results[0]["turn"]["status"], "SUCCESS")  # type: ignore[index]
        self.assertIsNone(results[1]["turn"])
        self.assertEqual(results[1]["error"]["code"], "BAD_USER_INPUT")  # type: ignore[index]
        self.assertEqual(results[1]["error"]["field"], "input.turns[1].content")  # type: ignore[index]
        self.assertEqual(results[2]["turn"]["turnId"], "t3")  # type: ignore[index]


class ErrorTest(unittest.TestCase):
    def test_bad_input_is_a_typed_error_naming_the_field(self) -> None:
        with self.assertRaises(MemoryGatewayError) as caught:
            client().ingest_turn(session_id=unique("s"), turn_id="t1", content="")
        err = caught.exception
        self.assertEqual(err.code, "BAD_USER_INPUT")
        self.assertEqual(err.field, "input.content")
        self.assertFalse(err.retryable)
        self.assertIsNone(err.retry_after_ms)

    def test_a_wrong_enum_names_the_variable(self) -> None:
        with self.assertRaises(MemoryGatewayError) as caught:
            client().ingest_turn(session_id=unique("s"), turn_id="t1", content="hi", role="user")
        self.assertEqual(caught.exception.code, "BAD_USER_INPUT")
        self.assertEqual(caught.exception.field, "in.role")

    def test_a_missing_scope_is_refused_before_anything_is_sent(self) -> None:
        proxy = InjectingProxy(gateway.url)
        self.addCleanup(proxy.close)
        mg = MemoryGateway(proxy.url, user_id="u", agent_id="a", namespace="n")
        with self.assertRaises(MemoryGatewayError) as caught:
            mg.ingest_turn(session_id="s", turn_id="t", content="hi")
        self.assertEqual((caught.exception.code, caught.exception.field), ("BAD_USER_INPUT", "input.workspaceId"))
        self.assertEqual(proxy.requests, [])

    def test_an_unknown_job_is_not_found(self) -> None:
        mg = client()
        for call in (lambda: mg.job("gwc_000000000000000000000000"), lambda: mg.wait_for_job("gwc_000000000000000000000000")):
            with self.assertRaises(MemoryGatewayError) as caught:
                call()
            self.assertEqual((caught.exception.code, caught.exception.field), ("NOT_FOUND", "id"))


class RetryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.proxy = InjectingProxy(gateway.url)
        self.addCleanup(self.proxy.close)
        self.slept: List[float] = []
        self.mg = client(self.proxy.url, sleep=self.slept.append, retry=RetryPolicy(max_attempts=3, initial_delay=0.1))

    def test_a_retryable_error_is_retried_after_a_backoff(self) -> None:
        self.proxy.inject({"code": "UNAVAILABLE", "retryable": True})
        result = self.mg.ingest_turn(session_id=unique("s"), turn_id="t1", content="retried once")
        self.assertEqual(result["status"], "SUCCESS")
        self.assertEqual(len(self.proxy.requests), 2)
        self.assertEqual(len(self.slept), 1)
        self.assertGreater(self.slept[0], 0)

    def test_retry_after_ms_is_respected(self) -> None:
        self.proxy.inject({"code": "RATE_LIMITED", "retryAfterMs": 1234})
        self.mg.retrieve_context("anything")
        self.assertEqual(self.slept, [1.234])
        self.assertEqual(len(self.proxy.requests), 2)

    def test_a_non_retryable_error_is_not_retried(self) -> None:
        with self.assertRaises(MemoryGatewayError) as caught:
            self.mg.ingest_turn(session_id=unique("s"), turn_id="t1", content="")
        self.assertEqual(caught.exception.field, "input.content")
        self.assertEqual(len(self.proxy.requests), 1)
        self.assertEqual(self.slept, [])

    def test_an_error_marked_not_retryable_is_not_retried_whatever_its_code(self) -> None:
        self.proxy.inject({"code": "UNAVAILABLE", "retryable": False})
        with self.assertRaises(MemoryGatewayError) as caught:
            self.mg.retrieve_context("anything")
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(len(self.proxy.requests), 1)

    def test_retries_stop_after_max_attempts_with_the_last_error(self) -> None:
        for _ in range(3):
            self.proxy.inject({"code": "UNAVAILABLE", "retryable": True})
        with self.assertRaises(MemoryGatewayError) as caught:
            self.mg.retrieve_context("anything")
        self.assertEqual(caught.exception.code, "UNAVAILABLE")
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(len(self.proxy.requests), 3)
        self.assertEqual(len(self.slept), 2)

    def test_wait_for_job_subscribes_again_after_a_retryable_stream_error(self) -> None:
        session = unique("s")
        self.mg.ingest_turn(session_id=session, turn_id="t1", content="followed through a proxy")
        job = self.mg.commit_session(session)["job"]
        self.proxy.inject({"code": "UNAVAILABLE", "retryable": True}, sse=True)
        done = self.mg.wait_for_job(job["id"], timeout=60)
        self.assertEqual(done["status"], "SUCCESS")
        self.assertEqual(len(self.slept), 1)

    def test_the_api_key_is_sent_as_a_bearer_token(self) -> None:
        mg = client(self.proxy.url, api_key="mgw_example")
        mg.retrieve_context("anything")
        self.assertEqual(self.proxy.requests[0].get("authorization"), "Bearer mgw_example")
        self.assertTrue(self.proxy.requests[0].get("user-agent", "").startswith("memory-gateway-python/"))


class KeyedGatewayTest(unittest.TestCase):
    """A gateway with a keys file: the key is required, and a refused one is not retried."""

    @classmethod
    def setUpClass(cls) -> None:
        workdir = os.path.join(_tmp, "keyed")
        os.makedirs(workdir)
        keys = os.path.join(workdir, "keys.json")
        made = subprocess.run(
            [_binary, "keys", "create", "--name", "agent", "--workspace", "acme", "--role", "AGENT",
             "--grant", "notes=WRITE", "--file", keys],
            check=True, capture_output=True, text=True,
        )
        cls.key = made.stdout.strip().splitlines()[-1]
        cls.gateway = Gateway(_binary, workdir, {"API_KEYS_FILE": keys})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()

    def test_the_key_is_required_and_accepted(self) -> None:
        ok = client(self.gateway.url, api_key=self.key).ingest_turn(session_id="s1", turn_id="t1", content="keyed")
        self.assertEqual(ok["status"], "SUCCESS")
        slept: List[float] = []
        for key in (None, "mgw_not_a_key"):
            with self.assertRaises(MemoryGatewayError) as caught:
                client(self.gateway.url, api_key=key, sleep=slept.append).retrieve_context("keyed")
            self.assertEqual(caught.exception.code, "UNAUTHENTICATED")
            self.assertFalse(caught.exception.retryable)
        self.assertEqual(slept, [])


class MemoryTest(unittest.TestCase):
    def test_retrieve_context_finds_an_ingested_turn(self) -> None:
        mg = client()
        session = unique("s")
        turn = mg.ingest_turn(session_id=session, turn_id="t1", content="My bicycle is a green tandem")
        found = mg.retrieve_context("tandem bicycle", limit=5)
        self.assertEqual(found["backends"][0]["outcome"], "OK")
        self.assertIn("My bicycle is a green tandem", [i["text"] for i in found["items"]])
        refs = [i["ref"]["id"] for i in found["items"] if i["ref"]]
        self.assertIn(turn["refs"][0]["id"], refs)

    def test_commit_then_wait_for_job_follows_it_to_success(self) -> None:
        mg = client()
        session = unique("s")
        mg.ingest_turn(session_id=session, turn_id="t1", content="I keep bees on the roof")
        commit = mg.commit_session(session, idempotency_key=unique("commit"))
        self.assertTrue(commit["created"])
        self.assertEqual(commit["job"]["kind"], "COMMIT")
        seen: List[str] = []
        done = mg.wait_for_job(commit["job"]["id"], timeout=60, on_update=lambda j: seen.append(j["status"]))
        self.assertEqual(done["status"], "SUCCESS")
        self.assertEqual(seen[-1], "SUCCESS")
        self.assertGreater(done["createdRefsCount"], 0)
        self.assertEqual(mg.job(commit["job"]["id"])["status"], "SUCCESS")

    def test_feedback_review_and_the_refs_graph(self) -> None:
        mg = client()
        session = unique("s")
        ref_id = mg.ingest_turn(session_id=session, turn_id="t1", content="I live in Lisbon")["refs"][0]["id"]
        helpful = mg.record_feedback(ref_id, "HELPFUL", source_event_id=unique("fb"))
        self.assertEqual(helpful["feedback"]["status"], "ACCEPTED")  # the default policy accepts HELPFUL

        delete = mg.record_feedback(ref_id, "DELETE_REQUEST", source_event_id=unique("fb"))
        self.assertTrue(delete["created"])
        self.assertEqual(delete["feedback"]["status"], "RECEIVED")
        reviewed = mg.review_feedback(delete["feedback"]["id"], "ACCEPT", reason="the user asked")
        job = reviewed["job"]
        assert job is not None
        self.assertEqual(job["kind"], "FEEDBACK_ROUTING")
        self.assertEqual(mg.wait_for_job(job["id"], timeout=60)["status"], "SUCCESS")

        ref = mg.memory_ref(ref_id)
        self.assertEqual(ref["status"], "DELETED")
        statuses = {f["feedbackType"]: f["status"] for f in ref["feedback"]}
        self.assertEqual(statuses, {"HELPFUL": "ACCEPTED", "DELETE_REQUEST": "APPLIED"})

        graph = mg.session(session)
        self.assertEqual(graph["sessionId"], session)
        self.assertIn(ref_id, [r["id"] for r in graph["refs"]])
        self.assertIn(job["id"], [j["id"] for j in graph["jobs"]])

        page = mg.memory_refs(workspace_id="acme", session_id=session, first=1)
        self.assertEqual(page["totalCount"], 1)
        self.assertEqual(page["refs"][0]["id"], ref_id)

    def test_erase_subject_follows_its_job_to_a_completed_request(self) -> None:
        mg = client()
        mg.ingest_turn(session_id=unique("s"), turn_id="t1", content="my passport expires in May")
        erased = mg.erase_subject("the user asked to be forgotten", idempotency_key=unique("erase"))
        self.assertTrue(erased["created"])
        self.assertEqual(erased["request"]["job"]["kind"], "ERASURE")
        done = mg.wait_for_job(erased["request"]["job"]["id"], timeout=60)
        self.assertEqual(done["status"], "SUCCESS")
        request = mg.erasure_request(erased["request"]["id"])
        self.assertEqual(request["status"], "COMPLETED")
        self.assertEqual([b["outcome"] for b in request["backends"]], ["ERASED"])
        self.assertEqual(mg.retrieve_context("passport")["items"], [])


class VersionTest(unittest.TestCase):
    def test_versions(self) -> None:
        self.assertRegex(__version__, r"^\d+\.\d+\.\d+$")
        self.assertTrue(SERVER_VERSIONS)
        for version, ok in [("dev", True), ("dev+0123456789ab.dirty", True), ("v0.1.0", True), ("0.1.7", True),
                            ("v0.2.0", False), ("v0.0.9", False), ("v1.0.0", False), ("nonsense", False)]:
            self.assertEqual(server_version_supported(version), ok, version)


class ExampleTest(unittest.TestCase):
    def test_the_agent_example_runs_to_a_committed_session(self) -> None:
        example = os.path.join(REPO_ROOT, "examples", "python", "agent.py")
        env = dict(os.environ, PYTHONPATH="")
        run = subprocess.run([sys.executable, example, "--url", gateway.url], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("(recalled) I also really like spicy food", run.stdout)
        self.assertIn("committed: SUCCESS", run.stdout)


if __name__ == "__main__":
    unittest.main()
