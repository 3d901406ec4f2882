"""Writing a report to ``--output PATH`` without breaking what is at the path.

A new path or a regular file is replaced atomically (a temporary file beside it,
then ``os.replace``), so a reader never sees half a report. Anything else is
written *through*: a symlink keeps pointing where it pointed (the file it names
is replaced atomically, or written through if it is not a regular file), and a
FIFO, ``/dev/stdout``, a terminal or another device receives the text as if the
shell had redirected into it; none of them is replaced by a regular file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from dataaudit.errors import UsageError


def write_report(path: str | Path, text: str, what: str = "report") -> None:
    """Write ``text`` to ``path`` (see the module docstring); an ``OSError`` is a
    :class:`UsageError` naming the path."""
    target = Path(path)
    try:
        try:
            st = os.stat(target)  # follows links: what the path leads to
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot write {what} {target}: it is a folder")
        if st is not None and (not stat.S_ISREG(st.st_mode) or _special(target)):
            _write_through(target, text)
            return
        # a regular file or a new name; through a symlink, the file it names (the link stays)
        real = Path(os.path.realpath(target)) if target.is_symlink() else target
        _replace_atomically(real, text)
    except BrokenPipeError:
        raise  # the reader of a pipe went away: the caller keeps the verdict
    except OSError as exc:
        raise UsageError(f"cannot write {what} {target}: {exc.strerror or exc}") from None


def _special(target: Path) -> bool:
    """``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``: names of an open descriptor,
    written through even when it leads to a regular file (the shell's redirection)."""
    real = os.path.realpath(target)
    return str(target.absolute()).startswith(("/dev/", "/proc/")) or real.startswith(("/dev/", "/proc/"))


def _write_through(target: Path, text: str) -> None:
    # O_TRUNC is ignored by FIFOs and devices; no O_CREAT: the target exists.
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _replace_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
