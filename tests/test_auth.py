"""Tokens: resolution order, redaction everywhere, and ``dataaudit login/whoami/logout`` against the loopback Hub."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("huggingface_hub")

try:
    from tests.fake_hub import FakeHub, point_libraries_at
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from fake_hub import FakeHub, point_libraries_at

from dataaudit import auth
from dataaudit.errors import HubError

ALICE = "hf_AliceReadsEverything0123456789ab"
BOB = "hf_BobReadsOnlyPublicData0123456789cd"
REVOKED = "hf_ThisTokenWasRevokedLastWeek01234567"
BIN = Path(sys.executable).parent


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty HF_HOME, no token in the environment, the Hub unreachable (port 9)."""
    pytest.importorskip("datasets")
    hf_home = tmp_path / "hf_home"
    hf_home.mkdir()
    point_libraries_at(monkeypatch, "http://127.0.0.1:9", hf_home)
    return hf_home


# --------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("explicit", "env", "stored", "expected", "source"),
    [
        (ALICE, BOB, REVOKED, ALICE, "--token"),
        (None, BOB, REVOKED, BOB, "HF_TOKEN"),
        (None, None, REVOKED, REVOKED, "stored"),
        (None, "   ", REVOKED, REVOKED, "stored"),
        ("  ", None, None, None, None),
    ],
    ids=[
        "--token wins over HF_TOKEN and the stored token",
        "HF_TOKEN wins over the stored token",
        "the stored token is the fallback",
        "a blank HF_TOKEN is ignored",
        "nothing anywhere means no token",
    ],
)
def test_token_resolution_order(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    explicit: str | None,
    env: str | None,
    stored: str | None,
    expected: str | None,
    source: str | None,
) -> None:
    if env is not None:
        monkeypatch.setenv("HF_TOKEN", env)
    if stored is not None:
        (home / "token").write_text(stored + "\n")

    resolved = auth.resolve(explicit)

    assert (resolved.token, resolved.source) == (expected, source)
    assert auth.resolve_token(explicit) == expected


def test_the_legacy_environment_variable_is_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", BOB)
    assert auth.resolve(None).source == "HUGGING_FACE_HUB_TOKEN"


def test_tokens_are_read_through_huggingface_hubs_public_get_token(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    public = "hf_FromThePublicGetToken0123456789"
    (home / "token").write_text(REVOKED)  # what a private reader of the file would find instead
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: public)

    assert auth.resolve(None) == auth.ResolvedToken(public, "stored")
    assert auth.scrub(public) == "hf_***"


@pytest.mark.parametrize(
    "broken",
    ["a directory", "bytes that are not UTF-8", "an error inside huggingface_hub"],
    ids=[
        "a token path that is a directory stops the scan",
        "a token file that is not text stops the scan",
        "get_token failing stops the scan",
    ],
)
def test_a_token_store_that_cannot_be_read_is_an_error_not_an_anonymous_scan(
    home: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    if broken == "a directory":
        (home / "token").mkdir()
    elif broken.startswith("bytes"):
        (home / "token").write_bytes(b"hf_\xff\xfe broken")
    else:
        import huggingface_hub

        def failing() -> str | None:
            raise RuntimeError("the token store changed format")

        monkeypatch.setattr(huggingface_hub, "get_token", failing)

    with pytest.raises(HubError, match=r"cannot read the Hugging Face token \(\w+Error: .*\): fix or remove .*token"):
        auth.resolve(None)
    assert auth.resolve("hf_ExplicitTokenStillWorks0123456789").source == "--token"


def test_a_scan_with_an_unreadable_token_store_exits_2_before_any_request(
    cli_hub: FakeHub, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "token").mkdir(parents=True)

    result = _run(cli_hub, home, "scan", "hf://alice/anything")

    assert result.returncode == 2
    assert result.stderr.startswith("dataaudit: error: cannot read the Hugging Face token (IsADirectoryError")
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli_hub.log() == []  # nothing went out anonymously


def test_the_stored_token_and_hf_token_both_reach_the_hub(cli_hub: FakeHub, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text(ALICE)

    stored = _run(cli_hub, home, "whoami")
    from_env = _run(cli_hub, tmp_path / "empty", "whoami", HF_TOKEN=ALICE)

    assert (stored.returncode, from_env.returncode) == (0, 0), stored.stderr + from_env.stderr
    assert "token: from the token store" in stored.stdout
    assert "token: from HF_TOKEN" in from_env.stdout
    assert cli_hub.authorizations() == {f"Bearer {ALICE}"}
    assert ALICE not in stored.stdout + stored.stderr + from_env.stdout + from_env.stderr


# --------------------------------------------------------------------------- redaction
def test_tokens_are_masked_in_log_records_from_any_logger() -> None:
    import io

    odd_secret = "company-sso-secret-4f9a1c"  # registered secrets need not look like hf_...
    auth.register_secret(odd_secret)
    auth.install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    lib = logging.getLogger("huggingface_hub.test")
    lib.addHandler(handler)
    lib.setLevel(logging.DEBUG)
    try:
        lib.debug("sending Authorization: Bearer %s", ALICE)
        lib.info("token file said %s", odd_secret)
        try:
            raise RuntimeError(f"boom with {BOB}")
        except RuntimeError:
            lib.exception("request failed")
    finally:
        lib.removeHandler(handler)
    text = stream.getvalue()
    assert "sending Authorization: Bearer ***" in text
    assert "token file said hf_***" in text
    assert "RuntimeError: boom with hf_***" in text
    for secret in (ALICE, BOB, odd_secret):
        assert secret not in text


def test_scrub_masks_registered_and_token_shaped_strings() -> None:
    auth.register_secret("plain-secret-value")
    assert auth.scrub(f"a {ALICE} b plain-secret-value c") == "a hf_*** b hf_*** c"


def test_whoami_error_for_a_rejected_token_names_no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeHub() as hub:
        point_libraries_at(monkeypatch, hub.url, tmp_path)
        with pytest.raises(HubError, match=r"rejected this token \(401 Unauthorized\)") as info:
            auth.whoami(REVOKED)
        assert hub.log()[0].headers["authorization"] == f"Bearer {REVOKED}"
    assert REVOKED not in str(info.value)


def test_whoami_without_a_hub_is_a_connection_error(home: Path) -> None:
    with pytest.raises(HubError, match=r"cannot reach the Hub at http://127\.0\.0\.1:9"):
        auth.whoami(ALICE)


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli_hub() -> Any:
    with FakeHub() as hub:
        hub.add_user(ALICE, "alice", role="read", display_name="laptop")
        yield hub


def _env(hub: FakeHub, home: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environ.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return environ


def _run(hub: FakeHub, home: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dataaudit"), *args],
        env=_env(hub, home, **extra),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_login_whoami_logout_round_trip(cli_hub: FakeHub, tmp_path: Path) -> None:
    home = tmp_path / "home"

    login = _run(cli_hub, home, "login", "--token-stdin", stdin=ALICE + "\n")
    assert login.returncode == 0, login.stderr
    assert "Logged in to" in login.stdout and "as alice (token 'laptop', read access)" in login.stdout
    assert (home / "token").read_text().strip() == ALICE  # huggingface_hub's own store

    whoami = _run(cli_hub, home, "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.splitlines()[0] == "alice"
    assert "token: from the token store, name 'laptop', read access" in whoami.stdout
    assert {r.headers.get("authorization") for r in cli_hub.log()} == {f"Bearer {ALICE}"}

    logout = _run(cli_hub, home, "logout")
    assert logout.returncode == 0 and "Logged out" in logout.stdout
    assert not (home / "token").exists()

    after = _run(cli_hub, home, "whoami")
    assert after.returncode == 1 and "Not logged in" in after.stderr
    for result in (login, whoami, logout, after):
        assert ALICE not in result.stdout + result.stderr


def test_login_with_a_revoked_token_exits_2_and_stores_nothing(cli_hub: FakeHub, tmp_path: Path) -> None:
    home = tmp_path / "home"

    result = _run(cli_hub, home, "login", "--token", REVOKED)

    assert result.returncode == 2
    assert "rejected this token (401 Unauthorized)" in result.stderr
    assert REVOKED not in result.stdout + result.stderr
    assert not (home / "token").exists()


def test_login_without_a_terminal_asks_for_token_stdin(cli_hub: FakeHub, tmp_path: Path) -> None:
    result = _run(cli_hub, tmp_path / "home", "login")

    assert result.returncode == 2
    assert "--token-stdin" in result.stderr
    assert cli_hub.log() == []


def test_whoami_reports_hf_token_from_the_environment(cli_hub: FakeHub, tmp_path: Path) -> None:
    result = _run(cli_hub, tmp_path / "home", "whoami", HF_TOKEN=ALICE)

    assert result.returncode == 0, result.stderr
    assert "token: from HF_TOKEN" in result.stdout
    assert ALICE not in result.stdout + result.stderr


def test_the_store_is_shared_with_huggingface_hub_both_ways(cli_hub: FakeHub, tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli_hub.add_user(BOB, "bob")
    store = subprocess.run(
        [sys.executable, "-c", "import sys, huggingface_hub; huggingface_hub.login(token=sys.argv[1])", ALICE],
        env=_env(cli_hub, home), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert store.returncode == 0, store.stderr

    whoami = _run(cli_hub, home, "whoami")
    assert whoami.returncode == 0 and whoami.stdout.startswith("alice"), whoami.stderr

    login = _run(cli_hub, home, "login", "--token-stdin", stdin=BOB)
    assert login.returncode == 0, login.stderr
    read_back = subprocess.run(
        [sys.executable, "-c", "import sys, huggingface_hub; print(huggingface_hub.get_token() == sys.argv[1])", BOB],
        env=_env(cli_hub, home), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert read_back.stdout.strip() == "True", read_back.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal test")
def test_the_login_prompt_does_not_echo_the_token(cli_hub: FakeHub, tmp_path: Path) -> None:
    import pty
    import select
    import time

    home = tmp_path / "home"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "dataaudit"), "login"],
        stdin=slave, stdout=slave, stderr=slave, env=_env(cli_hub, home), start_new_session=True, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not sent and b"input hidden" in output:
            os.write(master, ALICE.encode() + b"\n")
            sent = True
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=10)
    os.close(master)
    text = output.decode("utf-8", "replace")
    assert sent, text
    assert proc.returncode == 0, text
    assert "Logged in to" in text
    assert ALICE not in text
    assert (home / "token").read_text().strip() == ALICE


def test_importing_the_hub_modules_imports_neither_datasets_nor_huggingface_hub() -> None:
    code = (
        "import sys, dataaudit, dataaudit.auth, dataaudit.sources.hub, dataaudit.commands.login\n"
        "print(sorted(m for m in ('datasets', 'huggingface_hub', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
