"""A loopback Hugging Face Hub for the test suite.

:class:`FakeHub` is a real HTTP server (``ThreadingHTTPServer`` on ``127.0.0.1``,
ephemeral port) that speaks the part of the Hub's API that ``huggingface_hub`` and
``datasets`` use to log in and to stream a dataset:

- ``GET /api/whoami-v2``
- ``GET /api/datasets/NS/NAME`` and ``GET /api/datasets/NS/NAME/revision/REV``
- ``GET /api/datasets/NS/NAME/tree/REV[/PATH]`` (``recursive``, ``expand``)
- ``POST /api/datasets/NS/NAME/paths-info/REV``
- ``HEAD``/``GET /datasets/NS/NAME/resolve/REV/PATH`` with ``Range`` support

Access control follows the Hub: an unknown token is a 401 ``Invalid credentials
in Authorization header``; a missing or private repository is ``RepoNotFound``
(401 without a token, 404 with one); a gated repository serves its metadata and
README to everyone but its files only to users who accepted the terms
(``GatedRepo``: 401 without a token, 403 with one). Every request is recorded
(method, path, query, headers, status, body bytes served) so tests can assert on
what the client sent and how much it read. Anything the server does not know is
answered 404 and recorded as ``unhandled`` so a test can insist there was none.

Faults, each for the next N requests under a path prefix: a dropped connection
(:meth:`FakeHub.drop_connections`), an error status (:meth:`FakeHub.fail_requests`),
a stall that accepts and never answers (:meth:`FakeHub.stall_requests`), a reset
in the middle of the body (:meth:`FakeHub.reset_mid_stream`) and a body that
trickles out a byte at a time (:meth:`FakeHub.drip_responses`). Stalls and drips
end when the server stops.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_BRANCH = "main"


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    """One dataset repository: named revisions, each a mapping of path -> bytes."""

    repo_id: str
    revisions: dict[str, dict[str, bytes]]
    private: bool = False
    gated: bool = False
    members: set[str] = field(default_factory=set)
    """Users who can read a private repository, or who accepted a gated one's terms."""

    def sha(self, revision: str) -> str:
        digest = hashlib.sha1(self.repo_id.encode())
        digest.update(revision.encode())
        for path in sorted(self.revisions[revision]):
            digest.update(path.encode() + b"\0" + self.revisions[revision][path])
        return digest.hexdigest()

    def resolve(self, revision: str | None) -> str | None:
        """The revision name for a branch/tag name or a commit sha, ``None`` if unknown."""
        revision = revision or DEFAULT_BRANCH
        if revision in self.revisions:
            return revision
        for name in self.revisions:
            if self.sha(name) == revision:
                return name
        return None


@dataclass
class RecordedRequest:
    """What the client sent and what it got back."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names lower-cased."""
    status: int
    bytes_served: int
    unhandled: bool = False


class FakeHub:
    """The loopback Hub. Use as a context manager, or call :meth:`start`/:meth:`stop`."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._drop_next = 0
        self._drop_prefix = ""
        self._fail_next = 0
        self._fail_prefix = ""
        self._fail_status = 503
        self._faults: list[_Fault] = []
        self.released = threading.Event()
        """Set when the server stops: stalled and dripping handlers give up then."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ setup
    def add_user(self, token: str, name: str, role: str = "read", display_name: str = "dataaudit-tests") -> None:
        """Make ``token`` a valid token of user ``name``."""
        self.users[token] = {"name": name, "role": role, "displayName": display_name}

    def add_dataset(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        private: bool = False,
        gated: bool = False,
        members: set[str] | None = None,
        revisions: dict[str, dict[str, bytes]] | None = None,
    ) -> FakeRepo:
        """Serve a dataset repository whose ``main`` holds ``files`` (plus other named revisions)."""
        all_revisions = {DEFAULT_BRANCH: dict(files), **(revisions or {})}
        repo = FakeRepo(repo_id, all_revisions, private=private, gated=gated, members=set(members or ()))
        self.repos[repo_id] = repo
        return repo

    def drop_connections(self, count: int, path_prefix: str = "") -> None:
        """Close the next ``count`` connections whose path starts with ``path_prefix`` without answering."""
        with self._lock:
            self._drop_next = count
            self._drop_prefix = path_prefix

    def fail_requests(self, count: int, status: int = 503, path_prefix: str = "") -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status`` (and ``Retry-After: 0``)."""
        with self._lock:
            self._fail_next = count
            self._fail_status = status
            self._fail_prefix = path_prefix

    def stall_requests(self, count: int, path_prefix: str = "") -> None:
        """Read the next ``count`` requests under ``path_prefix`` and never answer them (until :meth:`stop`)."""
        with self._lock:
            self._faults.append(_Fault("stall", count, path_prefix))

    def reset_mid_stream(self, count: int, path_prefix: str = "", after_bytes: int = 0) -> None:
        """Send the headers and ``after_bytes`` of the body of the next ``count`` responses, then reset."""
        with self._lock:
            self._faults.append(_Fault("reset", count, path_prefix, after_bytes=after_bytes))

    def drip_responses(self, count: int, path_prefix: str = "", interval: float = 0.05) -> None:
        """Send the body of the next ``count`` responses one byte every ``interval`` seconds."""
        with self._lock:
            self._faults.append(_Fault("drip", count, path_prefix, interval=interval))

    # ---------------------------------------------------------------- queries
    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def log(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    def bytes_served(self, path_contains: str = "/resolve/") -> int:
        """Body bytes served by requests whose path contains ``path_contains``."""
        return sum(r.bytes_served for r in self.log() if path_contains in r.path)

    def authorizations(self) -> set[str | None]:
        return {r.headers.get("authorization") for r in self.log()}

    def unhandled(self) -> list[RecordedRequest]:
        return [r for r in self.log() if r.unhandled]

    # -------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "FakeHub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self
        self.released.clear()

        class Handler(_HubHandler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- helpers
    def _take_drop(self, path: str) -> bool:
        with self._lock:
            if self._drop_next > 0 and path.startswith(self._drop_prefix):
                self._drop_next -= 1
                return True
            return False

    def _take_fault(self, kind: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.count > 0 and path.startswith(fault.prefix):
                    fault.count -= 1
                    return fault
            return None

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            if self._fail_next > 0 and path.startswith(self._fail_prefix):
                self._fail_next -= 1
                return self._fail_status
            return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


@dataclass
class _Fault:
    kind: str
    """``stall``, ``reset`` or ``drip``."""
    count: int
    prefix: str
    after_bytes: int = 0
    interval: float = 0.05


class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _HubHandler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    # ---------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        if self.fake._take_fault("stall", path):
            self._record(method, path, query, 0, 0)
            self.fake.released.wait()  # accepted, never answered
            self.close_connection = True
            return
        if self.fake._take_drop(path):
            self._record(method, path, query, 0, 0)
            self.close_connection = True
            # Close the socket without a response: what a dropped connection looks like.
            self.connection.close()
            return
        self._unhandled = False
        try:
            failure = self.fake._take_failure(path)
            if failure is not None:
                raise _HubError(failure, None, "Service temporarily unavailable")
            status, headers, payload = self._route(method, path, query, body)
        except Exception as exc:  # a bug in the fake must show in the log, not as a dropped connection
            err = exc if isinstance(exc, _HubError) else _HubError(500, None, f"fake hub error: {exc!r}")
            self._unhandled = self._unhandled or not isinstance(exc, _HubError)
            status = err.status
            payload = json.dumps({"error": err.message}).encode()
            headers = {"Content-Type": "application/json", "X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
        body_fault = None if method == "HEAD" else (
            self.fake._take_fault("reset", path) or self.fake._take_fault("drip", path)
        )
        served = 0 if method == "HEAD" else len(payload)
        if body_fault is not None and body_fault.kind == "reset":
            served = min(served, body_fault.after_bytes)
        self._record(method, path, query, status, served)
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method == "HEAD":
            return
        if body_fault is None:
            self.wfile.write(payload)
        elif body_fault.kind == "reset":
            self.wfile.write(payload[: body_fault.after_bytes])
            self.wfile.flush()
            self._reset()
        else:
            self._drip(payload, body_fault.interval)

    def _reset(self) -> None:
        """Close with a TCP reset (linger 0), as a proxy or a crashed server does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()

    def _drip(self, payload: bytes, interval: float) -> None:
        try:
            for i in range(len(payload)):
                if self.fake.released.wait(interval):
                    break
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
        except OSError:  # the client gave up on us
            pass
        self.close_connection = True

    def _record(self, method: str, path: str, query: dict[str, list[str]], status: int, served: int) -> None:
        self.fake._record(
            RecordedRequest(
                method=method,
                path=path,
                query=query,
                headers={k.lower(): v for k, v in self.headers.items()},
                status=status,
                bytes_served=served,
                unhandled=getattr(self, "_unhandled", False),
            )
        )

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        segments = [s for s in path.split("/") if s]
        if method == "GET" and path == "/api/whoami-v2":
            return self._whoami()
        if len(segments) >= 4 and segments[:2] == ["api", "datasets"]:
            repo_id = "/".join(segments[2:4])
            rest = segments[4:]
            if method == "GET" and not rest:
                return self._info(repo_id, None)
            if method == "GET" and len(rest) >= 2 and rest[0] == "revision":
                return self._info(repo_id, "/".join(rest[1:]))
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                revision, sub = self._split_revision(repo_id, rest[1:])
                return self._tree(repo_id, revision, sub, query)
            if method == "POST" and len(rest) >= 2 and rest[0] == "paths-info":
                return self._paths_info(repo_id, "/".join(rest[1:]), body)
        if len(segments) >= 5 and segments[0] == "datasets" and segments[3] == "resolve" and method in ("GET", "HEAD"):
            repo_id = "/".join(segments[1:3])
            revision, file_path = self._split_revision(repo_id, segments[4:])
            return self._resolve(method, repo_id, revision, file_path)
        self._unhandled = True
        raise _HubError(404, None, f"Sorry, we can't find the page you are looking for: {method} {path}")

    # ----------------------------------------------------------------- access
    def _user(self) -> dict[str, Any] | None:
        """The caller, ``None`` when anonymous; raises 401 for a token the Hub does not know."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token not in self.fake.users:
            raise _HubError(401, None, "Invalid credentials in Authorization header")
        return self.fake.users[token]

    def _repo(self, repo_id: str, *, for_files: bool = False, file_path: str = "") -> FakeRepo:
        user = self._user()
        repo = self.fake.repos.get(repo_id)
        visible = repo is not None and (not repo.private or (user is not None and user["name"] in repo.members))
        if repo is None or not visible:
            if user is None:
                raise _HubError(401, "RepoNotFound", "Invalid username or password.")
            raise _HubError(404, "RepoNotFound", "Repository not found")
        if for_files and repo.gated and file_path not in ("README.md", ".gitattributes"):
            if user is None:
                raise _HubError(
                    401,
                    "GatedRepo",
                    f"Access to dataset {repo_id} is restricted. You must have access to it and be authenticated "
                    "to access it. Please log in.",
                )
            if user["name"] not in repo.members:
                raise _HubError(
                    403,
                    "GatedRepo",
                    f"Access to dataset {repo_id} is restricted and you are not in the authorized list. "
                    f"Visit https://huggingface.co/datasets/{repo_id} to ask for access.",
                )
        return repo

    def _split_revision(self, repo_id: str, parts: list[str]) -> tuple[str, str]:
        """Split ``REV/PATH...``; a revision may contain slashes (``refs/convert/parquet``)."""
        repo = self.fake.repos.get(repo_id)
        if repo is not None:
            for cut in range(len(parts), 0, -1):
                candidate = "/".join(parts[:cut])
                if repo.resolve(candidate) is not None:
                    return candidate, "/".join(parts[cut:])
        return parts[0], "/".join(parts[1:])

    def _revision(self, repo: FakeRepo, revision: str | None) -> str:
        name = repo.resolve(revision)
        if name is None:
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return name

    # -------------------------------------------------------------- endpoints
    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()

    def _whoami(self) -> tuple[int, dict[str, str], bytes]:
        user = self._user()
        if user is None:
            raise _HubError(401, None, "Invalid credentials in Authorization header")
        return self._json(
            {
                "type": "user",
                "id": hashlib.md5(user["name"].encode()).hexdigest()[:24],
                "name": user["name"],
                "fullname": user["name"].title(),
                "email": f"{user['name']}@example.org",
                "emailVerified": True,
                "isPro": False,
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": user["displayName"], "role": user["role"]},
                },
            }
        )

    def _info(self, repo_id: str, revision: str | None) -> tuple[int, dict[str, str], bytes]:
        repo = self._repo(repo_id)
        name = self._revision(repo, revision)
        files = repo.revisions[name]
        return self._json(
            {
                "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": repo.sha(name),
                "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "private": repo.private,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": [{"rfilename": p} for p in sorted(files)],
                "usedStorage": sum(len(v) for v in files.values()),
            }
        )

    def _entries(self, repo: FakeRepo, name: str, expand: bool) -> dict[str, dict[str, Any]]:
        files = repo.revisions[name]
        out: dict[str, dict[str, Any]] = {}
        for path, data in files.items():
            entry: dict[str, Any] = {"type": "file", "oid": _git_oid(data), "size": len(data), "path": path}
            if not path.endswith((".md", ".json", ".yaml", ".gitattributes")):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            if expand:
                entry["lastCommit"] = {"id": repo.sha(name), "title": "Upload", "date": "2026-01-01T00:00:00.000Z"}
            out[path] = entry
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            while parent:
                dir_entry: dict[str, Any] = {"type": "directory", "oid": _git_oid(parent.encode()), "size": 0, "path": parent}
                if expand:
                    dir_entry["lastCommit"] = entry.get("lastCommit")
                out.setdefault(parent, dir_entry)
                parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
        return out

    def _tree(
        self, repo_id: str, revision: str, sub: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        repo = self._repo(repo_id)
        name = self._revision(repo, revision)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        expand = query.get("expand", ["false"])[0].lower() in ("1", "true")
        entries = self._entries(repo, name, expand)
        sub = sub.strip("/")
        if sub and (sub not in entries or entries[sub]["type"] != "directory"):
            raise _HubError(404, "EntryNotFound", f"{sub} does not exist on \"{revision}\"")
        prefix = f"{sub}/" if sub else ""
        listing = []
        for path, entry in sorted(entries.items()):
            if not path.startswith(prefix):
                continue
            if not recursive and "/" in path[len(prefix):]:
                continue
            listing.append(entry)
        # Directories first, like the Hub's "tree first" order.
        listing.sort(key=lambda e: (e["type"] != "directory", e["path"]))
        return self._json(listing)

    def _paths_info(self, repo_id: str, revision: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        repo = self._repo(repo_id)
        name = self._revision(repo, revision)
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            form = json.loads(body or b"{}")
            paths = form.get("paths", [])
            expand = bool(form.get("expand", False))
        else:
            parsed = parse_qs(body.decode())
            paths = parsed.get("paths", [])
            expand = parsed.get("expand", ["false"])[0].lower() in ("1", "true")
        entries = self._entries(repo, name, expand)
        return self._json([entries[p.strip("/")] for p in paths if p.strip("/") in entries])

    def _resolve(self, method: str, repo_id: str, revision: str, file_path: str) -> tuple[int, dict[str, str], bytes]:
        repo = self._repo(repo_id, for_files=True, file_path=file_path)
        name = self._revision(repo, revision)
        files = repo.revisions[name]
        if file_path not in files:
            raise _HubError(404, "EntryNotFound", f"{file_path} does not exist on \"{revision}\"")
        data = files[file_path]
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{_git_oid(data)}"',
            "X-Repo-Commit": repo.sha(name),
            "Last-Modified": datetime(2026, 1, 1, tzinfo=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        rng = self.headers.get("Range")
        if rng is None:
            return 200, headers, data
        span = _parse_range(rng, len(data))
        if span is None:
            headers["Content-Range"] = f"bytes */{len(data)}"
            return 416, headers, b""
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return 206, headers, data[start : end + 1]


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> inclusive (start, end), ``None`` if unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    if first == "":
        if not last:
            return None
        length = int(last)
        if length <= 0 or size == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def iter_requests(hub: FakeHub, method: str | None = None, contains: str = "") -> Iterator[RecordedRequest]:
    """Recorded requests filtered by method and a substring of the path."""
    for request in hub.log():
        if (method is None or request.method == method) and contains in request.path:
            yield request


# --------------------------------------------------------------------------- test helpers
def point_libraries_at(monkeypatch: Any, url: str, home: Any) -> None:
    """Point ``huggingface_hub`` and ``datasets`` at the loopback Hub and a temporary HF_HOME.

    Both libraries read ``HF_ENDPOINT``/``HF_HOME`` once, at import, into module
    constants; a test process imports them once, so the constants are set here too
    (restored by ``monkeypatch``). Subprocesses only need the environment.
    """
    import os

    home = str(home)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN_PATH",
                 "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", home)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")
    import datasets.config as dconfig
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HOME", home)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", os.path.join(home, "hub"))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", os.path.join(home, "hub"), raising=False)
    monkeypatch.setattr(constants, "HF_ASSETS_CACHE", os.path.join(home, "assets"), raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", os.path.join(home, "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", os.path.join(home, "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(dconfig, "HF_ENDPOINT", url)
    monkeypatch.setattr(dconfig, "HUB_DATASETS_URL", url + "/datasets/{repo_id}/resolve/{revision}/{path}")
    monkeypatch.setattr(dconfig, "HF_UPDATE_DOWNLOAD_COUNTS", False)
    monkeypatch.setattr(dconfig, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(dconfig, "HF_CACHE_HOME", home, raising=False)
    monkeypatch.setattr(dconfig, "HF_DATASETS_CACHE", os.path.join(home, "datasets"), raising=False)
    monkeypatch.setattr(dconfig, "HF_MODULES_CACHE", os.path.join(home, "modules"), raising=False)


def forget_filesystems() -> None:
    """Drop fsspec's cached ``HfFileSystem`` instances (their listings belong to one test)."""
    try:
        from huggingface_hub import HfFileSystem

        HfFileSystem.clear_instance_cache()
    except Exception:  # pragma: no cover - best effort
        pass


def parquet_bytes(columns: dict[str, list[Any]], row_group_size: int = 16) -> bytes:
    """A Parquet file holding ``columns``."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf, row_group_size=row_group_size)
    return buf.getvalue()


def dataset_card(features_yaml: str = "", configs_yaml: str = "") -> bytes:
    """A README.md whose YAML header declares ``dataset_info.features`` and ``configs``."""
    head = ["---"]
    if features_yaml:
        head += ["dataset_info:", "  features:", features_yaml.rstrip("\n")]
    if configs_yaml:
        head += ["configs:", configs_yaml.rstrip("\n")]
    head += ["---", "# A tiny test dataset", ""]
    return "\n".join(head).encode()
