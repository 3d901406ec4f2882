"""Exception hierarchy.

One root, a few subclasses that carry data. Every message a user can see goes
through :func:`redact` so a Hugging Face token never reaches a terminal, a log or
a report. Broken rows and files inside a dataset are *findings*, never
exceptions: these classes are for scans that cannot run at all.
"""

from __future__ import annotations

import re

# Hugging Face user/org access tokens look like ``hf_`` followed by 30+ letters.
_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{6,}")
# ``Authorization: Bearer <anything>`` in echoed HTTP headers.
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with every token-like string and every given secret masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "hf_***")
    text = _TOKEN_RE.sub("hf_***", text)
    return _BEARER_RE.sub(r"\1***", text)


class DataauditError(Exception):
    """Root of every error dataaudit raises on purpose."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(DataauditError, ValueError):
    """Bad arguments or configuration: the user must change the command."""


class SourceError(DataauditError):
    """The source cannot be read at all (missing path, unrecognised layout)."""

    def __init__(self, message: str, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class HubError(SourceError):
    """A Hugging Face Hub request failed (access, unknown dataset, network)."""


class ArtefactError(DataauditError):
    """A preprocessing artefact is missing, malformed, tampered with or unsafe."""


class MissingExtraError(DataauditError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"this needs the optional dependency '{module}': pip install 'dataaudit[{extra}]'"
        )


def require(module: str, extra: str) -> object:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(extra, module) from exc
