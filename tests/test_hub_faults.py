"""Fault injection: the Hub client against a loopback Hub that stalls, resets, fails, recovers and drips.

Every scan ends: a verdict when the faults pass, otherwise exit 2 with one line
that says what failed, within the deadline (``--timeout``) or the retry budget,
one stderr line per retry at most with ``--verbose`` and none without, and never a
token. In-process tests shorten the backoff and the per-attempt limits through
``hub.POLICY``; the CLI tests run the shipped defaults with a short ``--timeout``.
A subprocess ``timeout`` guards each CLI run against a hang; no test asserts a time.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datasets")

try:
    from tests.fake_hub import FakeHub, forget_filesystems, parquet_bytes, point_libraries_at
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from fake_hub import FakeHub, forget_filesystems, parquet_bytes, point_libraries_at

import dataaudit
from dataaudit.errors import HubError
from dataaudit.sources import hub as hub_source
from dataaudit.sources.network import Guard, NetworkGaveUp, NetworkPolicy

ALICE = "hf_AliceReadsEverything0123456789ab"
DATAAUDIT = str(Path(sys.executable).with_name("dataaudit"))
REPO = "alice/shop"
TRAIN = f"/datasets/{REPO}/resolve/"
FAST = NetworkPolicy(first_delay=0.01, factor=2.0, max_delay=0.05, stall=0.5, rate_window=0.5, min_rate=1024.0)
"""Retry budget and backoff as shipped (5 retries), but short waits so the in-process suite stays fast."""


def _rows(start: int, n: int) -> dict[str, list[Any]]:
    return {
        "price": [float(i % 11) + 0.5 for i in range(start, start + n)],
        "colour": ["red" if i % 3 else "blue" for i in range(start, start + n)],
        "label": ["cheap" if i % 2 else "dear" for i in range(start, start + n)],
    }


def shop_files() -> dict[str, bytes]:
    """A clean two-split table dataset; each file is a few KB so a drip or a reset has a body to break."""
    return {
        "data/train-00000-of-00001.parquet": parquet_bytes(_rows(0, 400), row_group_size=64),
        "data/test-00000-of-00001.parquet": parquet_bytes(_rows(1000, 100), row_group_size=64),
    }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with FakeHub() as fake:
        fake.add_user(ALICE, "alice")
        fake.add_dataset(REPO, shop_files(), private=True, members={"alice"})
        point_libraries_at(monkeypatch, fake.url, tmp_path / "hf_home")
        monkeypatch.setattr(hub_source, "POLICY", FAST)
        yield fake
        forget_filesystems()


def _data_path(hub: FakeHub, split: str = "train") -> str:
    """The resolve path of a split's parquet file (datasets asks by commit sha)."""
    return f"{TRAIN}{hub.repos[REPO].sha('main')}/data/{split}-00000-of-00001.parquet"


def _summary(report: Any) -> tuple[Any, Any]:
    data = report.to_dict()
    return {s: v["rows"] for s, v in data["splits"].items()}, sorted((f["check"], f["split"]) for f in data["findings"])


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.name == "dataaudit.sources.network"]
    return [m for m in messages if m.startswith("retry ")]


# --------------------------------------------------------------------------- the guard on its own
def test_the_budget_backs_off_and_gives_up_on_the_failure_after_the_last_retry() -> None:
    guard = Guard("the test server", NetworkPolicy(retries=3, first_delay=0.5, factor=2.0, max_delay=1.5), timeout=60)

    delays = [guard.failure(f"attempt {i}") for i in range(3)]
    with pytest.raises(NetworkGaveUp, match=r"test server kept failing: attempt 3 \(gave up after 3 retries in 0 s\)"):
        guard.failure("attempt 3")

    assert delays == [0.5, 1.0, 1.5]
    with pytest.raises(NetworkGaveUp, match="kept failing: attempt 3"):  # every later attempt: the same reason
        guard.check()


def test_progress_refills_the_budget_so_rare_failures_in_a_long_scan_never_add_up() -> None:
    guard = Guard("the test server", NetworkPolicy(retries=2, first_delay=0.0), timeout=60)

    for _ in range(10):
        guard.failure("a hiccup")
        guard.failure("another")
        guard.progress()

    guard.check()
    assert guard.retries == 20


def test_failures_in_a_row_are_retried_only_within_the_retry_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    guard = Guard("the test server", NetworkPolicy(retries=50, first_delay=1.0, factor=1.0, retry_window=30), 600)
    delays: list[float] = []

    with pytest.raises(NetworkGaveUp, match=r"kept failing: a read timeout \(gave up after 3 retries in 33 s\)"):
        while True:
            delays.append(guard.failure("a read timeout"))
            now[0] += 1.0 + 10.0  # the backoff, then another attempt that times out after 10 s

    assert delays == [1.0, 1.0, 1.0]


def test_a_backoff_that_would_outlast_the_deadline_gives_up_now_with_the_last_failure() -> None:
    guard = Guard("the test server", NetworkPolicy(first_delay=5.0), timeout=1.0)

    with pytest.raises(NetworkGaveUp, match=r"the 1 s deadline passed \(last failure: 503 once\): raise it with"):
        guard.failure("503 once")


def test_socket_waits_never_reach_past_the_deadline() -> None:
    guard = Guard("the test server", NetworkPolicy(stall=20.0), timeout=2.0)

    waits = guard.timeouts({"connect": 10.0, "read": None, "write": 60.0, "pool": 1.0})

    assert waits["pool"] == 1.0
    assert all(0 < v <= 2.0 for v in waits.values())
    assert Guard("x", NetworkPolicy(stall=20.0), timeout=600).timeouts({"read": None})["read"] == 20.0


# --------------------------------------------------------------------------- faults, in process
def test_a_clean_hub_scans_quietly_with_no_retry(hub: FakeHub, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dataaudit.sources.network"):
        report = dataaudit.scan(f"hf://{REPO}", token=ALICE, progress=False)

    assert _summary(report)[0] == {"train": 400, "test": 100}
    assert _retry_lines(caplog) == []
    assert hub.unhandled() == []


@pytest.mark.parametrize(
    ("fault", "retries"),
    [
        ("a 503 on the first two answers", 2),
        ("a 500 on the data file twice", 2),
        ("a dropped connection twice", 2),
        ("a reset in the middle of the data file twice", 2),
    ],
    ids=[
        "a Hub that answers 503 for a while is waited out",
        "a data file that fails with 500 twice is fetched on the third try",
        "connections dropped before the answer are retried",
        "a download reset mid-stream resumes and loses no row",
    ],
)
def test_transient_faults_recover_with_the_same_report_as_a_clean_scan(
    hub: FakeHub, caplog: pytest.LogCaptureFixture, fault: str, retries: int
) -> None:
    clean = _summary(dataaudit.scan(f"hf://{REPO}", token=ALICE, progress=False))
    hub.reset_log()
    forget_filesystems()
    if fault.startswith("a 503"):
        hub.fail_requests(2, status=503)
    elif fault.startswith("a 500"):
        hub.fail_requests(2, status=500, path_prefix=_data_path(hub))
    elif fault.startswith("a dropped"):
        hub.drop_connections(2)
    else:
        hub.reset_mid_stream(2, _data_path(hub), after_bytes=700)

    with caplog.at_level(logging.INFO, logger="dataaudit.sources.network"):
        report = dataaudit.scan(f"hf://{REPO}", token=ALICE, progress=False)

    assert _summary(report) == clean
    assert not report.partial
    assert len(_retry_lines(caplog)) == retries


def _expect_failure(hub: FakeHub, match: str, **options: Any) -> HubError:
    with pytest.raises(HubError, match=match) as info:
        list(dataaudit.scan(f"hf://{REPO}", token=ALICE, progress=False, **options).findings)
    message = str(info.value)
    assert "\n" not in message and ALICE not in message
    return info.value


def test_a_stalled_hub_is_given_up_when_the_retry_budget_is_spent(
    hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub.stall_requests(10**6)

    with caplog.at_level(logging.INFO, logger="dataaudit.sources.network"):
        _expect_failure(hub, r"the Hub at http://127\.0\.0\.1:\d+ kept failing: .*ReadTimeout.* \(gave up after 5 ")

    assert len(_retry_lines(caplog)) == FAST.retries
    assert len(hub.log()) == FAST.retries + 1


def test_a_stalled_hub_is_given_up_at_the_deadline(hub: FakeHub) -> None:
    hub.stall_requests(10**6)

    _expect_failure(hub, r"the 1 s deadline passed \(last failure: .*ReadTimeout.*\): raise it with --time", timeout=1)


def test_a_hub_that_keeps_answering_500_is_given_up_after_the_budget(hub: FakeHub) -> None:
    hub.fail_requests(10**6, status=500)

    _expect_failure(hub, r"kept failing: \w+ /\S+: 500 Internal Server Error \(gave up after 5 retries in \d+ s\)")

    assert len(hub.log()) == FAST.retries + 1


def test_a_download_reset_mid_stream_every_time_is_given_up(hub: FakeHub) -> None:
    hub.reset_mid_stream(10**6, _data_path(hub), after_bytes=200)

    _expect_failure(hub, r"kept failing: GET /\S+train-00000-of-00001\.parquet: connection lost mid-response")

    gets = [r for r in hub.log() if r.path == _data_path(hub) and r.method == "GET"]
    assert 1 < len(gets) <= FAST.retries + 1


def test_a_drip_below_the_minimum_rate_is_given_up(hub: FakeHub, caplog: pytest.LogCaptureFixture) -> None:
    hub.drip_responses(10**6, _data_path(hub), interval=0.02)

    with caplog.at_level(logging.INFO, logger="dataaudit.sources.network"):
        _expect_failure(hub, r"kept failing: GET /\S+\.parquet: too slow \(\d+ bytes in [\d.]+ s, below 1024 bytes/s\)")

    assert len(_retry_lines(caplog)) == FAST.retries


def test_a_drip_that_outlasts_the_deadline_is_cut_there(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_source, "POLICY", NetworkPolicy(first_delay=0.01, stall=0.5, rate_window=3600))
    hub.drip_responses(10**6, _data_path(hub), interval=0.02)

    _expect_failure(hub, r"the 1\.5 s deadline passed", timeout=1.5)


def test_a_half_read_dataset_leaves_no_deadline_in_force(hub: FakeHub) -> None:
    from dataaudit.config import Config
    from dataaudit.sources import network
    from dataaudit.sources.hub import open_hub

    dataset = open_hub(f"hf://{REPO}", Config(token=ALICE, timeout=60))
    batches = dataset.batches()
    first = next(batches)

    assert first.frame is not None and first.frame.height > 0
    assert network.current() is None  # between batches, other requests of the process are not the scan's
    batches.close()  # type: ignore[attr-defined]
    assert network.current() is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_hub_fails_on_the_first_attempt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    point_libraries_at(monkeypatch, f"http://127.0.0.1:{_closed_port()}", tmp_path / "hf_home")
    monkeypatch.setattr(hub_source, "POLICY", FAST)
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", lambda s: sleeps.append(s))

    with pytest.raises(HubError, match=r"cannot reach the Hub at http://127\.0\.0\.1:\d+ \(ConnectError: .*\): check"):
        dataaudit.scan(f"hf://{REPO}", token=ALICE, progress=False)

    assert sleeps == []  # no backoff at any layer: an unreachable server is not a transient error


# --------------------------------------------------------------------------- faults, through the CLI
def _cli(url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environ.update(
        HF_ENDPOINT=url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_UPDATE_DOWNLOAD_COUNTS="0",
        HF_TOKEN=ALICE,
    )  # fmt: skip
    return subprocess.run(
        [DATAAUDIT, "scan", f"hf://{REPO}", *args],
        env=environ, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
    )  # fmt: skip


CLI_FAULTS = {
    "stall": ("the 3 s deadline passed (last failure: ", "ReadTimeout"),
    "reset": ("the 3 s deadline passed (last failure: ", "connection lost mid-response"),
    "500": ("the 3 s deadline passed (last failure: ", "500 Internal Server Error"),
    "drip": ("the 3 s deadline passed", ""),
}


def _plant(hub: FakeHub, fault: str) -> None:
    if fault == "stall":
        hub.stall_requests(10**6)
    elif fault == "reset":
        hub.reset_mid_stream(10**6, _data_path(hub), after_bytes=200)
    elif fault == "500":
        hub.fail_requests(10**6, status=500)
    else:
        hub.drip_responses(10**6, _data_path(hub), interval=0.05)


@pytest.mark.parametrize(
    ("fault", "verbose"),
    [("stall", False), ("reset", False), ("500", False), ("500", True), ("drip", False)],
    ids=[
        "a stalled Hub exits 2 at the deadline with one line",
        "a Hub that resets every download exits 2 at the deadline with one line",
        "a Hub that keeps answering 500 exits 2 at the deadline with one line",
        "a Hub that keeps answering 500 with --verbose adds one line per retry",
        "a Hub that drips bytes exits 2 at the deadline with one line",
    ],
)
def test_cli_gives_one_line_and_exit_2_for_a_persistent_fault(
    hub: FakeHub, tmp_path: Path, fault: str, verbose: bool
) -> None:
    _plant(hub, fault)

    result = _cli(hub.url, tmp_path / "home", "--timeout", "3", *(["--verbose"] if verbose else []))

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    head, detail = CLI_FAULTS[fault]
    assert lines[-1].startswith(f"dataaudit: error: hf://{REPO}: {head}"), lines
    assert detail in lines[-1]
    retries = [line for line in lines if line.startswith("dataaudit: retry ")]
    assert lines[:-1] == retries  # nothing but retry lines before the error
    if verbose:  # how many retries fit before the deadline depends on the machine's speed
        assert len(retries) <= NetworkPolicy().retries
    else:
        assert retries == []
    assert "Traceback" not in result.stderr
    assert ALICE not in result.stdout + result.stderr


def test_cli_waits_out_two_503s_and_gives_the_clean_verdict_quietly_or_with_one_line_each(
    hub: FakeHub, tmp_path: Path
) -> None:
    clean = _cli(hub.url, tmp_path / "home", "--format", "json")
    hub.fail_requests(2, status=503)
    quiet = _cli(hub.url, tmp_path / "home", "--format", "json")
    hub.fail_requests(2, status=503)
    verbose = _cli(hub.url, tmp_path / "home", "--format", "json", "--verbose")

    assert clean.returncode in (0, 1) and clean.stderr == ""
    for result in (quiet, verbose):
        assert result.returncode == clean.returncode, result.stderr
        assert json.loads(result.stdout)["findings"] == json.loads(clean.stdout)["findings"]
        assert ALICE not in result.stdout + result.stderr
    assert quiet.stderr == ""
    lines = verbose.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("dataaudit: retry ") for line in lines)
    assert "503 Service Unavailable" in lines[0]


def test_cli_offline_fails_with_one_line_on_the_first_attempt(tmp_path: Path) -> None:
    result = _cli(f"http://127.0.0.1:{_closed_port()}", tmp_path / "home", "--verbose")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("dataaudit: error: ")
    ]
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach the Hub at http://127.0.0.1:" in result.stderr
    assert "Connection refused" in result.stderr


@pytest.mark.parametrize(
    "value",
    [0, -1, float("nan"), float("inf"), "soon", True],
    ids=["zero is refused", "a negative is refused", "nan is refused", "infinity is refused",
         "a word is refused", "a boolean is refused"],
)  # fmt: skip
def test_a_timeout_that_is_no_positive_finite_number_is_a_usage_error(value: Any) -> None:
    from dataaudit.config import build_config
    from dataaudit.errors import UsageError

    with pytest.raises(UsageError, match=r"timeout must be a positive number of seconds"):
        build_config(None, None, timeout=value)
    assert build_config(None, None, timeout=2.5).timeout == 2.5


def test_the_timeout_can_come_from_the_configuration_file(tmp_path: Path) -> None:
    from dataaudit.config import build_config
    from dataaudit.errors import UsageError

    good = tmp_path / "good.toml"
    good.write_text("[tool.dataaudit]\ntimeout = 90\n")
    bad = tmp_path / "bad.toml"
    bad.write_text('[tool.dataaudit]\ntimeout = "soon"\n')

    assert build_config(None, str(good)).timeout == 90
    with pytest.raises(UsageError, match=r"bad\.toml: timeout must be a positive number of seconds, got 'soon'"):
        build_config(None, str(bad))


def test_the_default_deadline_is_the_documented_one() -> None:
    from dataaudit.config import Config
    from dataaudit.sources.network import DEFAULT_TIMEOUT

    assert Config().timeout == DEFAULT_TIMEOUT == NetworkPolicy().timeout == 3600
