"""Hugging Face tokens: where they come from, logging in and out, and keeping them secret.

A token is taken from ``--token``, else the ``HF_TOKEN`` environment variable,
else the token stored by ``dataaudit login`` -- which is ``huggingface_hub``'s own
store (``$HF_HOME/token``), so a ``huggingface-cli login`` / ``hf auth login``
works for dataaudit and a ``dataaudit login`` works for every Hugging Face tool.
The last two are read through ``huggingface_hub.get_token()``, its public API;
a store that cannot be read stops the command instead of scanning anonymously.

A token never reaches output: messages go through :func:`dataaudit.errors.redact`
with every token this process has seen (:func:`register_secret`), and
:func:`install_log_redaction` masks them in every log record, including those of
``huggingface_hub``, ``datasets`` and ``httpx``. ``huggingface_hub`` is imported
inside the functions that need it so that ``import dataaudit`` stays fast.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from dataaudit.errors import HubError, UsageError, redact, require

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
"""Environment variables read for a token, in order (the second is the legacy name)."""

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_FACTORY_INSTALLED = False


@dataclass(frozen=True)
class ResolvedToken:
    """A token and where it came from (for messages that must not show the token)."""

    token: str | None
    source: str | None
    """``"--token"``, ``"HF_TOKEN"``, ``"HUGGING_FACE_HUB_TOKEN"``, ``"HF_OIDC_RESOURCE"``, ``"stored"`` or ``None``."""

    @property
    def described(self) -> str:
        """``"the token from HF_TOKEN"`` and the like, for messages."""
        if self.source is None:
            return "no token"
        if self.source == "stored":
            return "the stored token (dataaudit login / huggingface-cli login)"
        return f"the token from {self.source}"


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`scrub` and log redaction mask it even if it does not look like ``hf_...``."""
    if secret and len(secret) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` with every registered secret and every ``hf_...``-looking token masked."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    return redact(text, *secrets)


def _clean(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.strip()
    return token or None


def resolve(explicit: str | None = None) -> ResolvedToken:
    """The token to use and its source: ``explicit`` (``--token``), else what ``huggingface_hub`` would send.

    The second is ``huggingface_hub.get_token()``, its public API: ``HF_TOKEN``
    (or the legacy ``HUGGING_FACE_HUB_TOKEN``), then the stored login (refreshed
    if it is an expiring OAuth token). A token store that exists but cannot be
    read is a :class:`HubError`, never a silent anonymous scan.
    """
    token = _clean(explicit)
    if token is not None:
        register_secret(token)
        return ResolvedToken(token, "--token")
    require("huggingface_hub", "hub")
    import huggingface_hub

    try:
        token = _clean(huggingface_hub.get_token())
    except Exception as exc:
        raise HubError(
            f"cannot read the Hugging Face token ({_short(exc)}): fix or remove {token_store_path()} "
            "(`dataaudit login` writes a new one), or pass --token / set HF_TOKEN"
        ) from None
    if token is None:
        return ResolvedToken(None, None)
    register_secret(token)
    for name in TOKEN_ENV_VARS:
        if _clean(os.environ.get(name)) == token:
            return ResolvedToken(token, name)
    if os.environ.get("HF_OIDC_RESOURCE"):
        return ResolvedToken(token, "HF_OIDC_RESOURCE")
    return ResolvedToken(token, "stored")


def token_env_var() -> str | None:
    """The environment variable that holds a token (``HF_TOKEN`` first), ``None`` if none does."""
    return next((name for name in TOKEN_ENV_VARS if _clean(os.environ.get(name))), None)


def resolve_token(explicit: str | None = None) -> str | None:
    """The token to use: ``explicit`` (``--token``), then ``HF_TOKEN``, then the stored token, else ``None``.

    Raises :class:`HubError` when the token store exists but cannot be read.
    """
    return resolve(explicit).token


def endpoint() -> str:
    """The Hub's base URL: ``HF_ENDPOINT`` when set, else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def token_store_path() -> str:
    """Where ``huggingface_hub`` keeps the active token (for messages; the path holds no secret)."""
    require("huggingface_hub", "hub")
    from huggingface_hub import constants

    return str(constants.HF_TOKEN_PATH)


# --------------------------------------------------------------------------- redaction of logs
class _RedactingFilter(logging.Filter):
    """Masks tokens in a record's message; attached to handlers that already exist."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logger's problem, not ours
        return
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        import traceback

        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = scrub(text)
        if clean != text:
            # Handlers format tracebacks from the exception object: hand them the redacted text instead.
            record.exc_text = clean
            record.exc_info = None


def install_log_redaction() -> None:
    """Mask tokens in every log record from now on, whichever logger emits it (idempotent)."""
    global _FACTORY_INSTALLED
    with _SECRETS_LOCK:
        if _FACTORY_INSTALLED:
            return
        _FACTORY_INSTALLED = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    redacting = _RedactingFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)


# --------------------------------------------------------------------------- login, logout, whoami
@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as ``/api/whoami-v2`` says."""

    name: str
    kind: str
    orgs: list[str]
    token_name: str | None
    role: str | None


def whoami(token: str) -> Identity:
    """Ask the Hub who ``token`` belongs to; :class:`HubError` for a rejected token or no connection."""
    require("huggingface_hub", "hub")
    from huggingface_hub import HfApi

    register_secret(token)
    install_log_redaction()
    try:
        info: dict[str, Any] = HfApi(endpoint=endpoint()).whoami(token=token)
    except Exception as exc:
        raise _whoami_error(exc) from None
    auth = info.get("auth") or {}
    access = auth.get("accessToken") or {}
    return Identity(
        name=str(info.get("name", "?")),
        kind=str(info.get("type", "user")),
        orgs=[str(o.get("name")) for o in info.get("orgs") or [] if isinstance(o, dict) and o.get("name")],
        token_name=access.get("displayName"),
        role=access.get("role"),
    )


def _whoami_error(exc: BaseException) -> HubError:
    status = _status_of(exc)
    if status == 401:
        return HubError(
            "the Hub rejected this token (401 Unauthorized): it is invalid, expired or revoked; "
            "create one at https://huggingface.co/settings/tokens"
        )
    if status is not None:
        return HubError(f"the Hub answered {status} to whoami at {endpoint()}: {_short(exc)}")
    return HubError(f"cannot reach the Hub at {endpoint()}: {_short(exc)}")


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return int(status) if isinstance(status, int) else None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return scrub(f"{type(exc).__name__}: {first}"[:300])


def login(token: str) -> Identity:
    """Validate ``token`` with the Hub and store it in ``huggingface_hub``'s token store."""
    clean = _clean(token)
    if clean is None:
        raise UsageError("empty token: paste a token from https://huggingface.co/settings/tokens")
    if clean.startswith("api_org"):
        raise UsageError("this is an organization token: log in with a personal access token")
    identity = whoami(clean)
    import huggingface_hub  # whoami() checked it is installed

    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its "Login successful" chatter goes to stderr otherwise
    try:
        huggingface_hub.login(token=clean, add_to_git_credential=False, skip_if_logged_in=False)
    except Exception as exc:
        raise HubError(f"cannot store the token: {_short(exc)}") from None
    finally:
        logger.setLevel(level)
    return identity


def logout() -> bool:
    """Remove the stored tokens; ``False`` if none was stored."""
    require("huggingface_hub", "hub")
    import huggingface_hub
    from huggingface_hub import constants

    had = any(os.path.exists(p) for p in (constants.HF_TOKEN_PATH, constants.HF_STORED_TOKENS_PATH))
    if not had:
        return False
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        huggingface_hub.logout()
    except OSError:
        pass  # raised when HF_TOKEN is still set: the files are gone, the caller says the rest
    finally:
        logger.setLevel(level)
    return True
