"""The command line: a thin shell over the library.

Every module of :mod:`dataaudit.commands` that defines ``register(subparsers)``
adds its subcommand; command modules import nothing heavy at import time. Errors
are mapped to exit codes here: 2 with a one-line message for anything that kept
the command from running, never a traceback (``DATAAUDIT_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

# The products numpy sends to BLAS here are small (per-batch image DCTs); BLAS worker threads
# only spin beside the scan's own threads. Set before numpy loads; a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# polars returns freed memory to the system after 0.5 s (its default for jemalloc); a scan frees
# and reallocates its batches' memory all the time, and every page handed back is faulted in
# again. jemalloc's own default (10 s) measured ~5% less CPU per scan at the same peak RSS.
# Set before polars loads; a user's setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")

from dataaudit._version import __version__  # noqa: E402
from dataaudit.errors import DataauditError, redact  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.print_usage(sys.stderr)
        sys.stderr.write(f"dataaudit: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    import dataaudit.commands as commands

    parser = _Parser(prog="dataaudit", description="Audit machine-learning training data before training.")
    parser.add_argument("--version", action="version", version=f"dataaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: (m.name != "scan", m.name)):
        module = importlib.import_module(f"dataaudit.commands.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def _log_to_stderr() -> None:
    """``--verbose``: dataaudit's INFO records (one line per network retry, among others) on stderr."""
    import logging

    package = logging.getLogger("dataaudit")
    package.setLevel(logging.INFO)
    if not any(getattr(h, "name", None) == "dataaudit-verbose" for h in package.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name("dataaudit-verbose")
        handler.setFormatter(logging.Formatter("dataaudit: %(message)s"))
        package.addHandler(handler)


_READS_NO_DATA = frozenset({"checks", "explain", "schema", "login", "logout", "whoami"})
"""Commands that load no data library: they run under any memory limit."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dataaudit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    if getattr(args, "verbose", False):
        _log_to_stderr()
    try:
        if args.command not in _READS_NO_DATA:
            from dataaudit.resources import check_startup_memory

            check_startup_memory()
        code = int(run(args))
        sys.stdout.flush()
        return code
    except DataauditError as exc:
        _error(f"dataaudit: error: {exc.message}")
        return exc.exit_code
    except KeyboardInterrupt:
        _error("dataaudit: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away before the command could say how it ended (a scan keeps its
        # verdict itself): never 0, which would read as "passed".
        discard_stdout()
        _error("dataaudit: error: the output was closed before the command finished (broken pipe)")
        return 2
    except MemoryError as exc:
        if os.environ.get("DATAAUDIT_DEBUG"):
            raise
        from dataaudit.resources import out_of_memory_message

        _error(f"dataaudit: error: {out_of_memory_message(exc)}")
        return _out_of_memory_exit()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("DATAAUDIT_DEBUG"):
            raise
        _error(f"dataaudit: internal error: {redact(f'{type(exc).__name__}: {exc}')} "
               "(set DATAAUDIT_DEBUG=1 for the traceback and report it)")
        return 2
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a Rust panic (pyo3's PanicException) is not an Exception
        if os.environ.get("DATAAUDIT_DEBUG"):
            raise
        text = str(exc)
        if any(s in text for s in ("memory allocation", "Resource temporarily unavailable", "Cannot allocate")):
            from dataaudit.resources import out_of_memory_message

            _error(f"dataaudit: error: {out_of_memory_message()} (a native library failed: {redact(text)[:200]})")
            return _out_of_memory_exit()
        else:
            _error(f"dataaudit: internal error: {redact(f'{type(exc).__name__}: {text}')[:500]} "
                   "(set DATAAUDIT_DEBUG=1 for the traceback and report it)")
        return 2


def _out_of_memory_exit() -> int:
    """Exit 2 now when this process is dataaudit itself: with memory exhausted, the native
    libraries' threads would go on failing (and printing) through the interpreter's shutdown."""
    if _is_the_program():
        os._exit(2)
    return 2


def _error(line: str) -> None:
    """One line on stderr, terminal controls escaped (messages quote names from the data)."""
    from dataaudit.report.console import printable

    try:
        sys.stderr.write(printable(line) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def discard_stdout() -> None:
    """Point stdout at ``/dev/null`` after its reader went away, so the interpreter's
    final flush does not fail again (and turn the exit status into 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (captured output)
        pass


def entry() -> int:
    """The ``dataaudit`` console script: :func:`main`, then the interpreter's exit.

    Objects still alive then (the loaded libraries' and their caches) are frozen
    out of the garbage collector's pass at exit, which measured ~40 ms of a scan's
    wall time; nothing is left to collect that the exit would not free anyway.

    Where the platform can fork, the command runs in a child process watched by
    this one (:func:`_supervise`): a native library that aborts when memory runs
    out (polars does) or the kernel's out-of-memory killer must still end in exit
    2 with a message, never in a signal.
    """
    import gc

    if hasattr(os, "fork") and _is_the_program() and not os.environ.get("DATAAUDIT_NO_SUPERVISOR"):
        parent_code = _supervise()
        if parent_code is not None:
            return parent_code
    code = main()
    gc.freeze()
    return code


def _is_the_program() -> bool:
    """True when this process *is* dataaudit (the console script or ``python -m dataaudit``),
    not a program that called :func:`entry` (a test runner must never be forked)."""
    program = sys.modules.get("__main__")
    spec = getattr(program, "__spec__", None)
    if spec is not None and spec.name == "dataaudit.__main__":
        return True
    name = os.path.basename(str(getattr(program, "__file__", "") or ""))
    return name in ("dataaudit", "dataaudit.exe", "dataaudit-script.py")


def _die_with_parent(parent: int) -> None:
    """Linux: the child is terminated when the supervising parent dies (a CI runner or a
    test's timeout kills the parent with SIGKILL, which cannot be passed on)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(2)


_FATAL = {"SIGABRT": "aborted", "SIGKILL": "killed", "SIGSEGV": "crashed", "SIGBUS": "crashed"}


def _supervise() -> int | None:
    """Fork: the child returns ``None`` and runs the command; the parent waits and
    returns the child's exit status, mapping a death by signal to exit 2."""
    import signal

    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        return None  # cannot fork (process limit): run the command here, unwatched
    if pid == 0:
        _die_with_parent(parent)
        return None
    # Signals sent to this process are passed on (a Ctrl-C reaches both through the
    # terminal's process group; the two coalesce in the child's pending flag).
    forward = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
               if hasattr(signal, n)]
    for sig in forward:
        signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except ChildProcessError:  # pragma: no cover - reaped elsewhere
            return 2
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig = os.WTERMSIG(status)
    name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else f"signal {sig}"
    if sig == signal.SIGINT:
        return 130
    if sig in forward:  # stopped on request: end the same way
        for s in forward:
            signal.signal(s, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig  # pragma: no cover - the signal ends the process first
    from dataaudit.resources import address_space_limit, available_memory, gib

    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    limit = address_space_limit()
    parts = [f"dataaudit: error: the scan was {_FATAL.get(name, 'stopped')} by {name}"]
    if name in ("SIGABRT", "SIGKILL"):
        parts.append("most likely out of memory: it needed more than it was allowed "
                     f"(it held {gib(peak)} at its peak")
        parts[-1] += f"; the address-space limit is {gib(limit)})" if limit is not None else ")"
        available = available_memory()
        if available is not None:
            parts.append(f"{gib(available)} is available now")
        parts.append("raise the limit or scan fewer files at a time")
    else:
        parts.append("please report it (set DATAAUDIT_DEBUG=1 and DATAAUDIT_NO_SUPERVISOR=1 for details)")
    _error("; ".join(parts))
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(entry())
