"""Safe access to local files: nothing outside the dataset root, nothing that is not a regular file.

The rules every local reader follows (README, "Local files: links, special files, text encodings"):

- a symbolic link is judged by where it ends once fully resolved: inside the dataset
  root it is followed, outside it is a finding (``outside``) and is never opened;
- a link whose target does not exist (data not pulled with ``dvc pull`` or
  ``git annex get``) is a finding (``missing``); a link loop is ``link_loop``;
- only regular files are opened, and without blocking (``O_NONBLOCK``, then a
  ``fstat`` check): a FIFO, device or socket is a finding (``not_regular``), never read.

The messages never show a path outside the dataset.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import IO

O_READ = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
"""Flags to open a file for reading that never wait (a FIFO without a writer opens at once)."""


def inside(path: str, root_real: str) -> bool:
    """Whether the real (resolved) ``path`` is ``root_real`` or lies under it."""
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def special_kind(mode: int) -> str:
    """Words for a file type that is neither a regular file nor a folder."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def shown(target: str, root_real: str) -> str:
    """A path as a finding names it: relative to the root when inside it, else only its last
    name (where things lie outside the dataset is not the report's to show)."""
    if inside(target, root_real):
        return repr(os.path.relpath(target, root_real).replace(os.sep, "/"))
    return repr(os.path.basename(target))


def link_problem(link: str, root_real: str) -> tuple[str, str, str | None, os.stat_result | None]:
    """Judge the symbolic link at ``link``: ``(kind, message, target, stat)``.

    ``kind`` is ``""`` when the link may be followed: its target lies inside
    ``root_real`` and exists (``target`` is its real path, ``stat`` the target's);
    otherwise ``outside``, ``missing``, ``link_loop`` or ``unreadable`` with a
    message for the finding.
    """
    target = os.path.realpath(link)
    try:
        st = os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link_loop", "symbolic link loop: the link leads back to itself", None, None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return ("missing", f"dangling symbolic link: its target {shown(target, root_real)} does not exist "
                    "(data not pulled? e.g. `dvc pull` or `git annex get`)", None, None)
        return "unreadable", f"cannot follow the symbolic link: {exc.strerror or exc}", None, None
    if not inside(target, root_real):
        return ("outside", "symbolic link to a path outside the dataset root; not followed (scan the folder "
                "that holds the files, or copy them into the dataset)", None, None)
    return "", "", target, st


def entry_problem(entry: os.DirEntry[str], root_real: str) -> tuple[str, str, os.stat_result | None]:
    """Judge a listed name: ``("", "", stat)`` for a regular file or a folder that may be read
    (``stat`` of the link's target, ``None`` for a plain entry); else ``(kind, message, None)``."""
    try:
        if entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
            return "", "", None
        if entry.is_symlink():
            kind, message, _, st = link_problem(entry.path, root_real)
            if kind or st is None:
                return kind or "unreadable", message, None
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                return "", "", st
            return "not_regular", f"symbolic link to {special_kind(st.st_mode)}; not opened", None
        mode = entry.stat(follow_symlinks=False).st_mode
        return "not_regular", f"{special_kind(mode)}, not a regular file; not opened", None
    except OSError as exc:
        return "unreadable", f"cannot stat: {exc.strerror or exc}", None


def regular_inside(path: str, root_real: str) -> str:
    """``""`` when ``path`` is a regular file whose real path (every link on the way
    resolved) lies inside ``root_real``; else the kind of problem: ``outside``,
    ``missing``, ``link_loop``, ``not_regular`` or ``unreadable``."""
    real = os.path.realpath(path)
    if not inside(real, root_real):
        return "outside"
    try:
        st = os.stat(real)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        return "link_loop" if exc.errno == errno.ELOOP else "unreadable"
    return "" if stat.S_ISREG(st.st_mode) else "not_regular"


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for binary reading if it is a regular file; ``OSError`` otherwise.

    Opened with ``O_NONBLOCK`` (a FIFO does not wait for a writer) and checked with
    ``fstat`` before anything is read, so a FIFO or device put in place of a file is
    refused instead of blocking or streaming forever.
    """
    fd = os.open(path, O_READ)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"{special_kind(mode)}, not a regular file", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
