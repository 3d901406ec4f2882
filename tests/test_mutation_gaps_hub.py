"""``login``, ``whoami`` and ``logout`` in the test process (the CLI tests run them in a child
process, where a planted bug in how the answer is read went unseen), against loopback servers:
the fake Hub, and a one-route server that answers ``/api/whoami-v2`` with a chosen body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("huggingface_hub")

from fake_hub import FakeHub, point_libraries_at  # noqa: E402

from dataaudit import auth  # noqa: E402
from dataaudit.errors import HubError, UsageError  # noqa: E402

ALICE = "hf_AliceReadsEverything0123456789ab"


class _Whoami:
    """A loopback server whose ``/api/whoami-v2`` answers ``status`` with ``body``."""

    def __init__(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    servers: list[_Whoami] = []

    def serve(status: int, body: Any) -> str:
        s = _Whoami(status, body)
        servers.append(s)
        point_libraries_at(monkeypatch, s.url, tmp_path / "hf")
        return s.url

    yield serve
    for s in servers:
        s.close()


def test_whoami_reads_the_name_kind_organisations_and_token_of_the_answer(answer: Any) -> None:
    answer(200, {"type": "org", "name": "acme-bot",
                 "orgs": [{"name": "acme"}, {"fullname": "no name"}, "not a dict", {"name": "labs"}],
                 "auth": {"accessToken": {"displayName": "ci", "role": "write"}}})
    assert auth.whoami(ALICE) == auth.Identity(name="acme-bot", kind="org", orgs=["acme", "labs"],
                                               token_name="ci", role="write")


def test_whoami_with_a_sparse_answer_falls_back_to_defaults(answer: Any) -> None:
    answer(200, {"orgs": None, "auth": None})
    assert auth.whoami(ALICE) == auth.Identity(name="?", kind="user", orgs=[], token_name=None, role=None)


@pytest.mark.parametrize(("status", "message"), [
    pytest.param(401, r"rejected this token \(401 Unauthorized\)", id="401 means a rejected token"),
    pytest.param(500, r"the Hub answered 500 to whoami at http://127\.0\.0\.1:\d+", id="500 names the status"),
    pytest.param(404, r"the Hub answered 404 to whoami", id="404 names the status"),
])
def test_whoami_errors_name_the_status(answer: Any, status: int, message: str) -> None:
    answer(status, {"error": "no"})
    with pytest.raises(HubError, match=message) as info:
        auth.whoami(ALICE)
    assert ALICE not in str(info.value)


def test_stored_token_and_logout_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # huggingface_hub.login() binds its endpoint at import, so storing runs in the CLI tests' child
    # process; the store itself is a file, written here as huggingface_hub writes it.
    home = tmp_path / "hf"
    point_libraries_at(monkeypatch, "http://127.0.0.1:9", home)
    assert auth.logout() is False and auth.resolve_token() is None  # nothing stored yet
    assert auth.resolve() == auth.ResolvedToken(None, None)
    home.mkdir(parents=True, exist_ok=True)
    (home / "token").write_text(f"  {ALICE}\n")
    assert auth.resolve_token() == ALICE
    assert auth.resolve() == auth.ResolvedToken(ALICE, "stored")
    assert auth.logout() is True
    assert not (home / "token").exists() and auth.resolve_token() is None
    assert auth.logout() is False


@pytest.mark.parametrize(("token", "message"), [
    pytest.param("   ", "empty token", id="a blank token"),
    pytest.param("api_org_0123456789abcdef", "organization token", id="an organisation token"),
])
def test_login_refuses_before_asking_the_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, token: str,
                                             message: str) -> None:
    with FakeHub() as hub:
        point_libraries_at(monkeypatch, hub.url, tmp_path / "hf")
        with pytest.raises(UsageError, match=message):
            auth.login(token)
        assert hub.log() == []
