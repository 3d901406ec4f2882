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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dataaudit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
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
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("DATAAUDIT_DEBUG"):
            raise
        _error(f"dataaudit: internal error: {redact(f'{type(exc).__name__}: {exc}')} "
               "(set DATAAUDIT_DEBUG=1 for the traceback and report it)")
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
    """
    import gc

    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(entry())
