"""Hugging Face datasets: ``hf://`` repositories, ``save_to_disk`` folders and local Hub folders.

:func:`open_hub` turns one of these into a :class:`~dataaudit.sources.base.Dataset`
that streams every split once with ``datasets`` -- nothing is downloaded whole:

- ``hf://NAMESPACE/NAME[@REVISION]``: ``load_dataset_builder(...)
  .as_streaming_dataset()`` (``load_dataset(..., streaming=True)``), authenticated
  with :func:`dataaudit.auth.resolve_token`;
- a folder written by ``save_to_disk``: ``load_from_disk`` (memory-mapped Arrow);
- a folder holding a Hub dataset's files (``data/train-00000-of-00001.parquet``,
  or a ``README.md`` whose YAML header declares ``configs:``): streamed like the Hub.

Batches are Arrow record batches turned into polars frames with the ``__row__``
column (row index in stream order). ``ClassLabel`` codes become their names (and
``Dataset.class_names``); an ``Image`` feature makes the dataset an image dataset
whose batches carry :class:`~dataaudit.sources.images.ImageRecord` payloads with
the encoded bytes; nested features are flattened (``a.b``), lists become their
JSON text and binary values their xxh3 digest, each with a note.

Failures raise :class:`~dataaudit.errors.HubError` with a message that says what to
do (log in, accept the terms, check the name). A remote scan runs under a
:class:`~dataaudit.sources.network.Guard`: an overall deadline (``--timeout``) and
a retry budget. ``huggingface_hub``'s HTTP client is replaced by one that consults
it (same event hooks): timeouts, dropped or reset connections, a body that drips
below the minimum rate and 408/429/5xx answers are retried there with backoff,
one INFO line each, so the retries of ``huggingface_hub`` and ``datasets`` (with
their own sleeps and log lines) never start; an unreachable Hub fails on the first
attempt; a stream that still breaks resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import polars as pl

from dataaudit import auth
from dataaudit.errors import DataauditError, HubError, SourceError, UsageError
from dataaudit.sources import network
from dataaudit.sources.network import Guard, NetworkGaveUp, NetworkInterrupted, NetworkPolicy
from dataaudit.sources.base import ROW, Batch, Dataset, SplitInfo, canonical_split, split_order

if TYPE_CHECKING:
    import pyarrow as pa

    from dataaudit.config import Config

logger = logging.getLogger(__name__)

SCHEME = "hf://"
TABLE_BATCH_ROWS = 8_192
"""Rows per batch for tables and text."""
IMAGE_BATCH_ROWS = 256
"""Rows per batch for image datasets (each row holds an encoded image)."""
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+$")
_SHARD_NAME = re.compile(r"^(?P<split>[A-Za-z0-9_.]+?)-\d{5}-of-\d{5}(\.[A-Za-z0-9]+)+$")
_DATA_EXTENSIONS = (".parquet", ".arrow", ".csv", ".tsv", ".json", ".jsonl", ".txt", ".gz", ".zst")
_YAML_KEYS = ("configs", "dataset_info")
_IMAGE_FEATURE = "Image"

T = TypeVar("T")


POLICY = NetworkPolicy()
"""Deadline default, retry budget and per-attempt limits of Hub scans; tests shorten them."""


# --------------------------------------------------------------------------- detection
def parse_spec(spec: str) -> tuple[str, str | None]:
    """``hf://ns/name@rev`` -> ``("ns/name", "rev")``; :class:`UsageError` when it is not one."""
    if not spec.startswith(SCHEME):
        raise UsageError(f"{spec}: not a Hub dataset (expected hf://NAMESPACE/NAME[@REVISION])")
    rest = spec[len(SCHEME) :].strip("/")
    if rest.startswith("datasets/"):
        rest = rest[len("datasets/") :]
    revision: str | None = None
    if "@" in rest:
        rest, revision = rest.split("@", 1)
        revision = revision.strip() or None
    if not _REPO_ID.match(rest):
        raise UsageError(
            f"{spec}: expected hf://NAMESPACE/NAME[@REVISION] (e.g. hf://stanfordnlp/imdb); "
            "single-name and sub-folder paths are not supported"
        )
    return rest, revision


def is_save_to_disk_folder(path: Path) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    if not path.is_dir():
        return False
    if (path / "dataset_dict.json").is_file():
        return True
    return (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def is_hub_folder(path: Path) -> bool:
    """True for a ``save_to_disk`` folder or a local copy of a Hub dataset repository.

    A Hub repository is recognised by a ``README.md`` whose YAML header declares
    ``configs:`` or ``dataset_info:``, or by a ``data/`` folder of files named like
    the Hub's shards (``train-00000-of-00003.parquet``). Plain split files
    (``train.csv``, ``train/*.parquet``) are left to the table reader.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    if is_save_to_disk_folder(path):
        return True
    if _readme_yaml_keys(path / "README.md") & set(_YAML_KEYS):
        return True
    data = path / "data"
    if data.is_dir():
        try:
            for entry in sorted(data.rglob("*"))[:10_000]:
                if entry.is_file() and _SHARD_NAME.match(entry.name) and entry.name.lower().endswith(_DATA_EXTENSIONS):
                    return True
        except OSError:
            return False
    return False


def _readme_yaml_keys(readme: Path) -> set[str]:
    """Top-level keys of the YAML front matter of a dataset card (no YAML parser needed)."""
    try:
        with open(readme, encoding="utf-8", errors="replace") as fh:
            if fh.readline().strip() != "---":
                return set()
            keys: set[str] = set()
            for _, line in zip(range(5_000), fh):
                if line.strip() == "---":
                    return keys
                match = re.match(r"^([A-Za-z_][\w\-]*)\s*:", line)
                if match:
                    keys.add(match.group(1))
    except OSError:
        return set()
    return set()


# --------------------------------------------------------------------------- errors
def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(out) < 12 and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _is_transient(exc: BaseException) -> bool:
    """A lost connection, a timeout or a server-side hiccup: worth retrying."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    httpx = _httpx()
    chain = _chain(exc)
    if any(isinstance(link, (OfflineModeIsEnabled, NetworkGaveUp)) for link in chain) or any(
        "OfflineModeIsEnabled" in str(link) for link in chain
    ):
        return False
    for link in chain:
        if isinstance(link, (NetworkInterrupted, httpx.TransportError, ConnectionError, TimeoutError)):
            return True
        status = _status(link)
        if status is not None:
            return status in _RETRY_STATUS
        if "Couldn't reach" in str(link):
            return True
    return False


def _httpx() -> Any:
    """The HTTP library ``huggingface_hub`` is built on (``httpx2``, or ``httpx`` before it)."""
    try:
        import httpx2
    except ImportError:  # pragma: no cover - huggingface_hub 1.x
        import httpx

        return httpx
    return httpx2


# --------------------------------------------------------------------------- the guarded HTTP client
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CLIENT_LOCK = threading.Lock()
_CLIENT_INSTALLED = False


def _reason(exc: BaseException) -> str:
    """``ReadTimeout: timed out`` and the like, one line, no secret."""
    text = str(exc).strip().splitlines()
    return auth.scrub(f"{type(exc).__name__}: {text[0] if text else 'no detail'}"[:200])


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: the backoff decides
        return None


def _guarded_stream(base: Any, httpx: Any) -> Any:
    class GuardedStream(base):  # type: ignore[misc,valid-type]
        """A response body that the guard watches: deadline, breaks, and a drip below the minimum rate."""

        def __init__(self, inner: Any, guard: Guard, label: str) -> None:
            self.inner = inner
            self.guard = guard
            self.label = label

        def __iter__(self) -> Iterator[bytes]:
            guard = self.guard
            meter = network.RateMeter(guard.policy)
            chunks = iter(self.inner)
            while True:
                guard.check()
                started = time.monotonic()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    guard.progress()
                    return
                except httpx.TransportError as exc:
                    guard.wait(guard.failure(f"{self.label}: connection lost mid-response ({_reason(exc)})"))
                    raise NetworkInterrupted(f"{self.label}: {_reason(exc)}") from exc
                meter.add(time.monotonic() - started, len(chunk))
                if meter.progressed():
                    guard.progress()
                slow = meter.too_slow()
                if slow is not None:
                    guard.wait(guard.failure(f"{self.label}: too slow ({slow})"))
                    raise NetworkInterrupted(f"{self.label}: too slow ({slow})")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    return GuardedStream


def _guarded_client_class(base: Any, httpx: Any) -> Any:
    stream_class = _guarded_stream(httpx.SyncByteStream, httpx)

    class GuardedClient(base):  # type: ignore[misc,valid-type]
        """``huggingface_hub``'s HTTP client, consulting the scan's :class:`Guard` on every request.

        Outside a scan it is the plain client. Inside one, a request waits no
        longer than the deadline allows; a timeout, a dropped connection or a
        408/429/5xx answer is retried here, within the guard's budget, so that the
        libraries above (each with retries and sleeps of its own) never see one; an
        unreachable server gives up at once.
        """

        def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
            guard = network.current()
            if guard is None:
                return super().send(request, stream=stream, **kwargs)
            label = f"{request.method} {request.url.path}"
            if request.url.host not in guard.hosts:
                guard.check()
                request.extensions = {
                    **request.extensions,
                    "timeout": guard.timeouts(request.extensions.get("timeout")),
                }
                return super().send(request, stream=stream, **kwargs)
            while True:
                guard.check()
                request.extensions = {
                    **request.extensions,
                    "timeout": guard.timeouts(request.extensions.get("timeout")),
                }
                try:
                    response = super().send(request, stream=True, **kwargs)
                except httpx.ConnectError as exc:
                    guard.give_up(
                        f"cannot reach {guard.target} ({_reason(exc)}): check the network connection, "
                        "HF_ENDPOINT and the proxy settings"
                    )
                except httpx.TransportError as exc:
                    guard.wait(guard.failure(f"{label}: {_reason(exc)}"))
                    continue
                if response.status_code in _RETRY_STATUS:
                    retry_after = _retry_after(response.headers)
                    response.close()
                    what = f"{label}: {response.status_code} {response.reason_phrase}".rstrip()
                    guard.wait(guard.failure(what, retry_after))
                    continue
                response.stream = stream_class(response.stream, guard, label)
                if stream:
                    return response
                try:
                    response.read()
                except NetworkInterrupted:
                    response.close()
                    continue  # counted and waited out by the stream: ask again
                except BaseException:
                    response.close()
                    raise
                return response

    return GuardedClient


def _install_client() -> None:
    """Make ``huggingface_hub`` (and ``datasets``, which shares its session) use the guarded client.

    The new client keeps the event hooks of the one it replaces (offline mode,
    request ids, download counting), so outside a scan nothing changes.
    """
    global _CLIENT_INSTALLED
    with _CLIENT_LOCK:
        if _CLIENT_INSTALLED:
            return
        import huggingface_hub

        httpx = _httpx()
        template = huggingface_hub.get_session()
        hooks = {name: list(funcs) for name, funcs in template.event_hooks.items()}
        follow = template.follow_redirects
        client_class = _guarded_client_class(type(template), httpx)

        def factory() -> Any:
            return client_class(event_hooks=hooks, follow_redirects=follow, timeout=None)

        huggingface_hub.set_client_factory(factory)
        _CLIENT_INSTALLED = True


@dataclass
class _Context:
    """What error messages need to know: the dataset, the revision and the token's source."""

    spec: str
    repo_id: str | None
    revision: str | None
    token: auth.ResolvedToken
    guard: Guard | None = None
    """The deadline and retry budget of a remote scan; ``None`` for local folders."""

    @property
    def page(self) -> str:
        return f"{auth.endpoint()}/datasets/{self.repo_id}"


def _hub_error(exc: BaseException, ctx: _Context) -> DataauditError:
    """Translate what ``datasets``/``huggingface_hub`` raised into a one-line, actionable error."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, DataauditError):
        return exc
    chain = _chain(exc)
    if ctx.guard is not None and ctx.guard.fatal is not None:
        # Whatever the libraries made of it, the network gave out first: that is the reason.
        return HubError(ctx.guard.fatal, ctx.spec)
    gave_up = next((link for link in chain if isinstance(link, NetworkGaveUp)), None)
    if gave_up is not None:
        return HubError(str(gave_up), ctx.spec)
    text = " | ".join(str(link) for link in chain)
    login_hint = "log in with `dataaudit login` (or pass --token / set HF_TOKEN)"
    has_token = ctx.token.token is not None
    for link in chain:
        if isinstance(link, hf_errors.OfflineModeIsEnabled) or "OfflineModeIsEnabled" in str(link):
            return HubError("HF_HUB_OFFLINE is set, so the Hub cannot be reached: unset it to scan", ctx.spec)
    gated = next((link for link in chain if isinstance(link, hf_errors.GatedRepoError)), None)
    if gated is not None or "is a gated dataset" in text:
        status = _status(gated) if gated is not None else None
        if not has_token or status == 401 or "must be authenticated" in text:
            return HubError(
                f"{ctx.repo_id} is a gated dataset: accept its terms at {ctx.page} while logged in, "
                f"then {login_hint}",
                ctx.spec,
            )
        return HubError(
            f"{ctx.repo_id} is a gated dataset and the account of {ctx.token.described} has no access yet: "
            f"accept its terms at {ctx.page} (and wait for approval if the authors review requests)",
            ctx.spec,
        )
    if any(isinstance(link, hf_errors.RevisionNotFoundError) for link in chain) or re.search(
        r"Revision '.*' doesn't exist", text
    ):
        return HubError(
            f"revision {ctx.revision!r} not found in {ctx.repo_id}: check the branch, tag or commit", ctx.spec
        )
    for link in chain:
        status = _status(link)
        if status == 401 and not isinstance(link, hf_errors.RepositoryNotFoundError):
            return HubError(
                f"the Hub rejected {ctx.token.described} (401 Unauthorized): it is invalid, expired or revoked; "
                "create a new one at https://huggingface.co/settings/tokens and run `dataaudit login`",
                ctx.spec,
            )
        if status == 403:
            return HubError(
                f"{ctx.token.described} may not read {ctx.repo_id} (403 Forbidden): give the token read access "
                "to this repository (fine-grained tokens need it explicitly)",
                ctx.spec,
            )
    not_found = any(isinstance(link, hf_errors.RepositoryNotFoundError) for link in chain) or (
        "doesn't exist on the Hub or cannot be accessed" in text
    )
    if not_found:
        if has_token:
            return HubError(
                f"dataset {ctx.repo_id} not found, or it is private and the account of {ctx.token.described} "
                "cannot read it: check the name and your access",
                ctx.spec,
            )
        return HubError(
            f"dataset {ctx.repo_id} not found on the Hub: check the name; if it is private, {login_hint}", ctx.spec
        )
    if "Config name is missing" in text:
        names = re.search(r"available configs: (\[.*?\])", text)
        listed = ", ".join(re.findall(r"'([^']+)'", names.group(1))) if names else "see the dataset page"
        return UsageError(f"{ctx.spec} has several configs ({listed}): pick one with --config NAME")
    match = re.search(r"BuilderConfig '([^']*)' not found\. Available: (\[.*?\])", text)
    if match:
        listed = ", ".join(re.findall(r"'([^']+)'", match.group(2)))
        return UsageError(f"{ctx.spec}: no config named {match.group(1)!r}; configs: {listed}")
    for link in chain:
        name = type(link).__name__
        if name in ("DataFilesNotFoundError", "EmptyDatasetError"):
            return HubError(f"no data files that datasets can read: {_first_line(link)}", ctx.spec)
        if name == "DatasetGenerationError":
            return HubError(f"datasets could not read a data file: {_first_line(link)}", ctx.spec)
    status = next((s for s in map(_status, chain) if s is not None), None)
    if status is not None and status >= 429:
        return HubError(
            f"the Hub at {auth.endpoint()} answered {status} ({_first_line(exc)}): try again later", ctx.spec
        )
    if _is_transient(exc):
        return HubError(
            f"lost the connection to the Hub at {auth.endpoint()} ({_first_line(exc)}): "
            "check the network and try again",
            ctx.spec,
        )
    return HubError(f"cannot read the dataset: {_first_line(exc)}", ctx.spec)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return auth.scrub(f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300])


def _with_retries(what: str, ctx: _Context, call: Callable[[], T]) -> T:
    """Run ``call`` under the scan's guard; retry what broke off within its budget, translate every failure."""
    while True:
        try:
            return call()
        except DataauditError:
            raise
        except Exception as exc:
            _retry_or_raise(exc, ctx, what)


def _retry_or_raise(exc: Exception, ctx: _Context, what: str) -> None:
    """Return when ``exc`` is worth another attempt (after backing off), else raise the one-line error.

    A transfer the guarded client saw break was counted and waited out there; any
    other transient error is counted here, so each retry is logged once.
    """
    guard = ctx.guard
    if guard is None or guard.fatal is not None or not _is_transient(exc):
        raise _hub_error(exc, ctx) from None
    if any(isinstance(link, NetworkInterrupted) for link in _chain(exc)):
        return
    try:
        guard.wait(guard.failure(f"{what}: {_first_line(exc)}"))
    except NetworkGaveUp:
        raise _hub_error(exc, ctx) from None


# --------------------------------------------------------------------------- features -> columns
@dataclass
class _Plan:
    """How the Arrow columns of one dataset become polars columns and image records."""

    class_labels: dict[str, list[str]] = field(default_factory=dict)
    """Top-level ``ClassLabel`` columns -> their names."""
    image_column: str | None = None
    dropped: list[str] = field(default_factory=list)
    label: str | None = None


def _feature_kind(feature: Any) -> str:
    return type(feature).__name__


def _describe_features(features: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, feature in (features or {}).items():
        kind = _feature_kind(feature)
        if kind == "Value":
            out[str(name)] = str(getattr(feature, "dtype", "value"))
        elif kind == "ClassLabel":
            out[str(name)] = f"ClassLabel({len(feature.names)} classes)"
        else:
            out[str(name)] = kind if kind != "dict" else "struct"
    return out


def _output_columns(features: Any, prefix: str = "") -> list[str]:
    """The polars column names a feature set turns into (structs flattened as ``a.b``)."""
    out: list[str] = []
    for name, feature in (features or {}).items():
        full = f"{prefix}{name}"
        if isinstance(feature, dict):
            out += _output_columns(feature, full + ".")
        else:
            out.append(full)
    return out


def _find(columns: list[str], wanted: str) -> str | None:
    for col in columns:
        if col == wanted:
            return col
    for col in columns:
        if col.lower() == wanted.lower():
            return col
    return None


def _arrow_to_frame(
    table: pa.Table, plan: _Plan, start: int, notes: set[str], root: Path | None = None, token: str | None = None
) -> tuple[pl.DataFrame, list[Any] | None]:
    """One Arrow batch -> a flat polars frame with ``__row__`` (and image records when there is an image column)."""
    import pyarrow as pa

    images: list[Any] | None = None
    if plan.image_column is not None and plan.image_column in table.column_names:
        images = _image_records(table.column(plan.image_column), start, root, token)
    keep = [c for c in table.column_names if c != plan.image_column and c not in plan.dropped]
    columns: dict[str, pl.Series] = {}
    for name in keep:
        chunked = table.column(name)
        if isinstance(chunked.type, pa.ExtensionType):  # datasets' ArrayND extension types
            chunked = pa.chunked_array([c.storage for c in chunked.chunks], type=chunked.type.storage_type)
        try:
            series = pl.Series(name, pl.from_arrow(pa.table({name: chunked}))[name])  # type: ignore[index,unused-ignore]
        except Exception:
            series = pl.Series(name, [_json_text(v) for v in chunked.to_pylist()], dtype=pl.String)
            notes.add(f"column {name!r} has a type polars cannot hold: audited as its JSON text")
        columns[name] = series
    rows = pl.Series(ROW, range(start, start + table.num_rows), dtype=pl.Int64)
    frame = _flatten(pl.DataFrame([*columns.values(), rows]), notes)
    exprs = []
    for name, names in plan.class_labels.items():
        if name in frame.columns and frame.schema[name].is_integer():
            codes = pl.col(name)
            mapped = codes.replace_strict(
                list(range(len(names))), names, default=codes.cast(pl.String), return_dtype=pl.String
            )
            # -1 is datasets' "no label" (e.g. the unlabelled test split of a benchmark).
            exprs.append(pl.when(codes < 0).then(None).otherwise(mapped).alias(name))
    if exprs:
        frame = frame.with_columns(exprs)
    if images is not None and plan.label is not None and plan.label in frame.columns:
        labels = frame[plan.label].cast(pl.String).to_list()
        from dataaudit.sources.images import ImageRecord

        images = [ImageRecord(r.index, r.path, r.data, labels[i]) for i, r in enumerate(images)]
    return frame, images


def _flatten(frame: pl.DataFrame, notes: set[str]) -> pl.DataFrame:
    """Structs -> ``a.b`` columns; lists and arrays -> JSON text; binary -> xxh3 digest."""
    for _ in range(16):  # nesting depth bound
        structs = [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            break
        exprs: list[pl.Expr] = []
        for col, dtype in frame.schema.items():
            if isinstance(dtype, pl.Struct):
                exprs += [pl.col(col).struct.field(f.name).alias(f"{col}.{f.name}") for f in dtype.fields]
                notes.add(f"column {col!r} is a struct: audited as its fields ({col}.FIELD)")
            else:
                exprs.append(pl.col(col))
        frame = frame.select(exprs)
    replaced: dict[str, pl.Series] = {}
    for col, dtype in frame.schema.items():
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            replaced[col] = pl.Series(col, [_json_text(v) for v in frame[col].to_list()], dtype=pl.String)
            notes.add(f"column {col!r} holds lists: audited as their JSON text")
        elif isinstance(dtype, pl.Binary) or dtype == pl.Object:
            replaced[col] = pl.Series(col, [_digest(v) for v in frame[col].to_list()], dtype=pl.String)
            notes.add(f"column {col!r} holds binary data: audited as its xxh3 digest")
    if replaced:
        frame = frame.with_columns(list(replaced.values()))
    return frame


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _digest(value: Any) -> str | None:
    if value is None:
        return None
    import xxhash

    data = value if isinstance(value, (bytes, bytearray)) else repr(value).encode()
    return xxhash.xxh3_64_hexdigest(data)


def _image_records(column: Any, start: int, root: Path | None, token: str | None) -> list[Any]:
    """Arrow ``Image`` storage (struct of bytes and path) -> image records without labels.

    Records carry the encoded bytes; a Hub item is located by its row, so the file
    name stored beside the bytes is dropped. An image stored only as a path (a
    ``save_to_disk`` of local files) keeps its path, relative to ``root`` when under it;
    a remote path (``hf://``, ``https://``) is fetched.
    """
    from dataaudit.sources.images import ImageRecord

    out = []
    for i, value in enumerate(column.to_pylist()):
        data: bytes | None = None
        path: str | None = None
        if isinstance(value, dict):
            data = value.get("bytes")
            path = value.get("path")
        elif isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        elif isinstance(value, str):
            path = value
        if data is not None:
            path = None
        elif path is not None and "://" in path:
            data = _fetch(path, token)
            path = None
        elif path is not None and root is not None:
            path = _relative(path, root) if Path(path).is_absolute() else path
        out.append(ImageRecord(index=start + i, path=path, data=data, label=None))
    return out


def _fetch(url: str, token: str | None) -> bytes | None:
    """The bytes behind a remote image path, ``None`` when unreadable (a corrupt-file finding then)."""
    try:
        if url.startswith(SCHEME):
            from huggingface_hub import HfFileSystem

            with HfFileSystem(endpoint=auth.endpoint(), token=token or False).open(url, "rb") as fh:
                return bytes(fh.read())
        import fsspec

        with fsspec.open(url, "rb") as fh:
            return bytes(fh.read())
    except Exception as exc:
        guard = network.current()
        if guard is not None and guard.fatal is not None:
            raise HubError(guard.fatal) from None  # the scan is over, not this one image
        logger.warning("cannot fetch image %s: %s", url, _first_line(exc))
        return None


# --------------------------------------------------------------------------- the dataset
@dataclass
class _Split:
    """One split as ``datasets`` names it and how to (re)open its stream."""

    original: str
    name: str
    open: Callable[[], Any]
    """Returns an object with ``.iter(batch_size)`` (and ``state_dict`` when it can resume)."""
    features: Any
    num_rows: int | None
    path: str


class _HubSource:
    """Everything :func:`open_hub` learned, and the one-pass reader."""

    def __init__(self, ctx: _Context, config: Config, splits: list[_Split], layout: str, streaming: bool) -> None:
        self.ctx = ctx
        self.config = config
        self.splits = splits
        self.layout = layout
        self.streaming = streaming
        self.notes: list[str] = []
        self.plan = _Plan()
        self.dataset: Dataset | None = None
        self.root: Path | None = None

    # ---------------------------------------------------------------- planning
    def build(self, root: Path | None, detected: dict[str, Any]) -> Dataset:
        self.root = root
        features = {s.name: s.features for s in self.splits}
        columns = {s: _output_columns(f) for s, f in features.items()}
        every = sorted({c for cols in columns.values() for c in cols})
        plan = self.plan
        # ClassLabel and Image features, taken from the first split that declares them.
        images: list[str] = []
        for split in self.splits:
            for name, feature in (split.features or {}).items():
                kind = _feature_kind(feature)
                if kind == "ClassLabel" and name not in plan.class_labels:
                    plan.class_labels[str(name)] = [str(n) for n in feature.names]
                if kind == _IMAGE_FEATURE and name not in images:
                    images.append(str(name))
        modality = self.config.modality
        if modality is not None and modality not in ("table", "text", "image"):
            raise UsageError(f"--modality {modality}: expected table, text or image")
        if images and modality in (None, "image"):
            plan.image_column = images[0]
            plan.dropped = images[1:]
            if plan.dropped:
                self.notes.append(f"image columns {', '.join(plan.dropped)} ignored: only {images[0]!r} is audited")
            modality = "image"
        elif images:
            plan.dropped = images
            self.notes.append(f"image columns {', '.join(images)} ignored (--modality {modality})")
        elif modality == "image":
            raise UsageError(f"--modality image: {self.ctx.spec} has no Image feature")
        plan.label = self._label(columns, every)
        class_names = plan.class_labels.get(plan.label) if plan.label else None
        text_column: str | None = None
        if modality != "image":
            text_column = self._text_column(features, every)
            modality = modality or ("text" if text_column else "table")
        if plan.label is None:
            self.notes.append(
                "no label column found (no ClassLabel feature, none of label, labels, target, class, y, species, "
                "category; pass --label COL): label checks skipped"
            )
        from dataaudit.sources.tables import ID_PATTERN

        excluded = {c for c in (plan.label, text_column, plan.image_column) if c}
        id_columns = sorted(c for c in every if c not in excluded and ID_PATTERN.search(c.strip()))
        if self.config.max_rows is not None:
            self.notes.append(f"--max-rows {self.config.max_rows}: at most that many rows read from each split")
        detected.update(
            {
                "modality": modality,
                "label": plan.label,
                "label_guessed": self.config.label is None and plan.label is not None,
                "label_source": "ClassLabel" if class_names is not None else ("--label" if self.config.label else None),
                "id_columns": id_columns,
                "features": {s.name: _describe_features(s.features) for s in self.splits},
                "splits_as_found": {s.name: s.original for s in self.splits},
            }
        )
        if text_column:
            detected["text_column"] = text_column
        if plan.image_column:
            detected["image_column"] = plan.image_column
        fmt = detected.get("format") if isinstance(detected.get("format"), str) else None
        known = [s.num_rows for s in self.splits]
        partial = self.config.max_rows is not None and any(n is None or n > self.config.max_rows for n in known)
        self.dataset = Dataset(
            source=self.ctx.spec,
            root=root,
            modality=modality,
            splits={s.name: SplitInfo(s.name, [], fmt) for s in self.splits},
            label_column=plan.label,
            read=self.read,
            text_column=text_column,
            id_columns=id_columns,
            detected=detected,
            notes=self.notes,
            partial=partial,
            class_names=class_names,
        )
        return self.dataset

    def _label(self, columns: dict[str, list[str]], every: list[str]) -> str | None:
        from dataaudit.sources.tables import LABEL_CANDIDATES

        if self.config.label:
            found = _find(every, self.config.label)
            if found is None:
                raise UsageError(f"--label {self.config.label!r} not found; columns: {', '.join(every)}")
            return found
        for name in self.plan.class_labels:
            return name
        readable = [cols for cols in columns.values() if cols]
        for cand in LABEL_CANDIDATES:
            matches = [_find(cols, cand) for cols in readable]
            if readable and all(matches):
                return matches[0]
        return None

    def _text_column(self, features: dict[str, Any], every: list[str]) -> str | None:
        from dataaudit.sources.tables import TEXT_CANDIDATES

        if self.config.text_column:
            found = _find(every, self.config.text_column)
            if found is None:
                raise UsageError(f"--text-column {self.config.text_column!r} not found; columns: {', '.join(every)}")
            return found
        strings = set()
        for feats in features.values():
            for name, feature in (feats or {}).items():
                dtype = str(getattr(feature, "dtype", ""))
                if _feature_kind(feature) == "Value" and dtype in ("string", "large_string"):
                    strings.add(str(name))
        for cand in TEXT_CANDIDATES:
            found = _find(sorted(strings), cand)
            if found:
                return found
        return None

    # ---------------------------------------------------------------- reading
    def read(self) -> Iterator[Batch]:
        if self.ctx.guard is None:
            return self._read_all()
        return network.guarded_iter(self.ctx.guard, self._read_all())

    def _read_all(self) -> Iterator[Batch]:
        notes: set[str] = set()
        cut: list[str] = []
        # Whoever restricts ``Dataset.splits`` (fit reads train only) spares the other streams.
        wanted = set(self.dataset.splits) if self.dataset is not None else None
        try:
            for split in sorted(self.splits, key=lambda s: split_order(s.name)):
                if wanted is None or split.name in wanted:
                    yield from self._read_split(split, notes, cut)
        finally:
            for note in sorted(notes):
                if note not in self.notes:
                    self.notes.append(note)
            if self.dataset is not None and self.config.max_rows is not None:
                self.dataset.partial = bool(cut)
                summary = (
                    f"partial scan: read only the first {self.config.max_rows} rows of {', '.join(cut)} (--max-rows)"
                    if cut
                    else None
                )
                self.notes[:] = [n for n in self.notes if not n.startswith(("--max-rows", "partial scan:"))]
                if summary:
                    self.notes.append(summary)

    def _read_split(self, split: _Split, notes: set[str], cut: list[str]) -> Iterator[Batch]:
        limit = self.config.max_rows
        batch_rows = IMAGE_BATCH_ROWS if self.plan.image_column else TABLE_BATCH_ROWS
        if limit is not None:
            batch_rows = max(1, min(batch_rows, limit))
        rows = 0
        state: Any = None
        first = True
        guard = self.ctx.guard
        while True:
            stream: Any = None
            iterator: Any = None
            try:
                with _torch_left_alone():
                    stream = split.open()
                    if state is not None:
                        stream.load_state_dict(state)
                iterator = iter(stream.iter(batch_size=batch_rows))
                for table in iterator:
                    if limit is not None and rows + table.num_rows > limit:
                        table = table.slice(0, limit - rows)
                        if split.name not in cut:
                            cut.append(split.name)
                    if table.num_rows == 0:
                        break
                    frame, images = _arrow_to_frame(table, self.plan, rows, notes, self.root, self.ctx.token.token)
                    rows += table.num_rows
                    if self.streaming:
                        state = stream.state_dict()
                    if guard is not None:
                        guard.check()
                    if images is not None:
                        yield Batch(split.name, split.path, payload=images, nbytes=int(table.nbytes))
                    else:
                        header = [c for c in frame.columns if c != ROW] if first else None
                        yield Batch(split.name, split.path, frame=frame, nbytes=int(table.nbytes), columns=header)
                    first = False
                    if limit is not None and rows >= limit:
                        if (split.num_rows is None or split.num_rows > limit) and split.name not in cut:
                            cut.append(split.name)
                        break
                return
            except DataauditError:
                raise
            except Exception as exc:
                if not self.streaming:
                    raise _hub_error(exc, self.ctx) from None
                _retry_or_raise(exc, self.ctx, f"reading split {split.name} after {rows} rows")
            finally:
                # Close the generators now, while the interpreter is whole: an abandoned
                # datasets generator collected at exit prints a spurious traceback.
                close = getattr(iterator, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        pass


# --------------------------------------------------------------------------- entry points
def open_hub(spec: str, config: Config) -> Dataset:
    """A Hub dataset (``hf://ns/name[@rev]``), a ``save_to_disk`` folder or a local Hub folder, ready to stream.

    Uses ``config.config_name``, ``config.split``, ``config.max_rows``,
    ``config.token`` and ``config.revision``. Raises :class:`HubError` when the
    dataset cannot be read (unknown, gated, private, bad token, no connection)
    and :class:`UsageError` for options that do not fit it.
    """
    auth.install_log_redaction()
    if spec.startswith(SCHEME):
        return _open_remote(spec, config)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise SourceError("no such folder", spec)
    if is_save_to_disk_folder(path):
        return _open_saved(path, spec, config)
    return _open_local_repo(path, spec, config)


@contextmanager
def _torch_left_alone() -> Iterator[None]:
    """Build ``datasets`` streams without importing torch.

    With torch installed, every ``IterableDataset`` constructor imports it (about
    three seconds) to share its epoch counter with DataLoader workers; these streams
    never reach a DataLoader, so that import is skipped unless torch is loaded already.
    """
    import datasets.config as dconfig

    if "torch" in sys.modules or not dconfig.TORCH_AVAILABLE:
        yield
        return
    dconfig.TORCH_AVAILABLE = False
    try:
        yield
    finally:
        dconfig.TORCH_AVAILABLE = True


def _datasets() -> Any:
    from dataaudit.errors import require

    return require("datasets", "hub")


def _select_splits(names: list[str], wanted: str | None, spec: str) -> list[tuple[str, str]]:
    """``[(original, canonical)]`` for the splits to read, in stream order."""
    pairs: list[tuple[str, str]] = []
    taken: set[str] = set()
    for original in names:
        name = canonical_split(original) or original
        if name in taken:
            name = original
        taken.add(name)
        pairs.append((original, name))
    if wanted:
        target = canonical_split(wanted) or wanted
        chosen = [p for p in pairs if p[0] == wanted or p[1] == target]
        if not chosen:
            raise UsageError(f"{spec}: no split {wanted!r}; splits: {', '.join(n for n, _ in pairs)}")
        pairs = chosen[:1]
    return sorted(pairs, key=lambda p: split_order(p[1]))


def _open_remote(spec: str, config: Config) -> Dataset:
    repo_id, revision = parse_spec(spec)
    if config.revision and revision and config.revision != revision:
        raise UsageError(f"{spec}: revision @{revision} and --revision {config.revision} disagree")
    revision = revision or config.revision
    datasets = _datasets()
    token = auth.resolve(config.token)
    _install_client()
    host = urlsplit(auth.endpoint()).hostname or ""
    guard = Guard(f"the Hub at {auth.endpoint()}", POLICY, config.timeout, hosts=(host,))
    ctx = _Context(spec, repo_id, revision, token, guard)

    def load() -> Any:
        builder = datasets.load_dataset_builder(
            repo_id, name=config.config_name, revision=revision, token=token.token or False
        )
        with _torch_left_alone():
            return builder, builder.as_streaming_dataset()

    with network.active(guard):
        builder, streams = _with_retries("opening the dataset", ctx, load)
        return _with_retries(
            "reading the features",
            ctx,
            lambda: _from_builder(builder, streams, ctx, config, None, {"layout": "hub", "repo_id": repo_id}),
        )


def _open_local_repo(path: Path, spec: str, config: Config) -> Dataset:
    datasets = _datasets()
    ctx = _Context(spec, None, None, auth.ResolvedToken(None, None))
    if config.revision:
        raise UsageError(f"--revision applies to hf:// datasets, not to the local folder {spec}")
    try:
        builder = datasets.load_dataset_builder(str(path), name=config.config_name)
        with _torch_left_alone():
            streams = builder.as_streaming_dataset()
    except DataauditError:
        raise
    except Exception as exc:
        err = _hub_error(exc, ctx)
        if isinstance(err, UsageError):
            raise err from None
        raise SourceError(f"not a readable Hugging Face dataset folder: {_first_line(exc)}", spec) from None
    return _from_builder(builder, streams, ctx, config, path, {"layout": "hub_folder"})


def _from_builder(
    builder: Any, streams: Any, ctx: _Context, config: Config, root: Path | None, detected: dict[str, Any]
) -> Dataset:
    names = list(streams.keys())
    chosen = _select_splits(names, config.split, ctx.spec)
    info_splits = getattr(builder.info, "splits", None) or {}
    data_files = getattr(builder.config, "data_files", None) or {}
    splits: list[_Split] = []
    for original, name in chosen:
        stream = streams[original]
        features = stream.features
        if features is None:
            try:
                with _torch_left_alone():
                    features = stream._resolve_features().features
            except Exception:  # resolved again (and reported) when read
                features = None
        info = info_splits.get(original) if hasattr(info_splits, "get") else None
        num_rows = getattr(info, "num_examples", None) or None
        path = ctx.spec
        if root is not None:
            files = [str(f) for f in data_files.get(original, [])] if hasattr(data_files, "get") else []
            rels = sorted({_relative(f, root) for f in files})
            path = rels[0] if len(rels) == 1 else (_common_dir(rels) or ".")

        def reopen(original: str = original) -> Any:
            return builder.as_streaming_dataset(split=original).with_format("arrow")

        splits.append(_Split(original, name, reopen, features, num_rows, path))
    source = _HubSource(ctx, config, splits, detected["layout"], streaming=True)
    detected.update(
        {
            "format": getattr(builder, "name", None) or "unknown",
            "config_name": getattr(builder.config, "name", None),
        }
    )
    if ctx.repo_id is not None:
        detected["revision"] = ctx.revision or "main"
        commit = getattr(builder, "hash", None)
        if isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit):
            detected["commit"] = commit
    return source.build(root, detected)


def _open_saved(path: Path, spec: str, config: Config) -> Dataset:
    datasets = _datasets()
    ctx = _Context(spec, None, None, auth.ResolvedToken(None, None))
    if config.config_name or config.revision:
        raise UsageError(
            f"a Hub config name (--config NAME) and --revision do not apply to the save_to_disk folder {spec}"
        )
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise SourceError(f"not a readable save_to_disk folder: {_first_line(exc)}", spec) from None
    parts = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    chosen = _select_splits(list(parts), config.split, spec)
    splits: list[_Split] = []
    total = 0
    for original, name in chosen:
        part = parts[original]
        files = [Path(f["filename"]) for f in getattr(part, "cache_files", []) or []]
        total += sum(f.stat().st_size for f in files if f.exists())
        rels = sorted({_relative(str(f), path) for f in files})
        rel = rels[0] if len(rels) == 1 else (_common_dir(rels) or original)

        def reopen(part: Any = part) -> Any:
            return part.with_format("arrow")

        splits.append(_Split(original, name, reopen, part.features, part.num_rows, rel))
    source = _HubSource(ctx, config, splits, "save_to_disk", streaming=False)
    dataset = source.build(path, {"layout": "save_to_disk", "format": "arrow"})
    dataset.total_bytes = total or None
    dataset.splits = {s.name: SplitInfo(s.name, [path / s.path] if s.path else [], "arrow") for s in splits}
    return dataset


def _relative(file: str, root: Path) -> str:
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(file).name


def _common_dir(rels: list[str]) -> str:
    if not rels:
        return ""
    parts = [r.split("/")[:-1] for r in rels]
    common: list[str] = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common)
