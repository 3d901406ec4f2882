"""Mutation testing of dataaudit's pure logic: how many small planted bugs does the suite catch?

Run outside CI, from the repository root (it takes a while; sample on a busy machine):

    nice -n 19 python tools/mutation.py --sample 300 --seed 1

What it does:

1. Copies the package, the tests and the sample data to a scratch folder (``--work``,
   default ``$TMPDIR/dataaudit-mutation``). The working tree is never modified: mutants
   are written into the scratch copy only, and restored after each run.
2. Generates mutants of the target modules (``TARGETS``) by walking their syntax tree:
   arithmetic and comparison operator swaps (``<`` to ``<=``: the off-by-one), ``and``/``or``,
   ``in``/``not in``, ``is``/``is not``, dropped ``not`` and unary minus, integer constants
   ``n -> n+1`` (``1 -> 0``), floats doubled, ``True``/``False``, ``min``/``max`` and
   ``any``/``all`` swaps, augmented assignments swapped, ``break``/``continue`` swapped,
   call and ``yield`` statements removed, ``if`` conditions replaced by ``True`` or
   ``False`` and one operand of a two-operand ``and``/``or`` dropped. Docstrings,
   annotations, f-strings, string constants, ``raise`` statements and ``message=``
   arguments are not mutated: they are text for people, not logic.
3. Maps every line of the targets to the tests that execute it: one run of the test files
   under ``coverage`` with a context per test (cached per test file in the work folder,
   keyed by the contents of the package, the test helpers and that file). Tests that
   fail on the unmutated code are left out.
4. For each mutant (all, or a deterministic random ``--sample N --seed S``), runs only the
   tests that cover the mutated line, fastest first, with ``pytest -x`` and a timeout
   derived from their measured durations. A failing test kills the mutant; a timeout
   counts as detected (a hang fails CI) but is reported on its own; a mutant no test
   executes survives as ``uncovered`` without running anything. Coverage is measured in
   the test process only: code that runs only in a child process (``dataaudit`` started
   by a test, forked scan workers) counts as uncovered. To bound the time, each mutant
   runs covering tests worth ``--budget`` seconds (round-robin over their files): a mutant
   only a slower test would kill is reported as surviving, so the rate errs low. Code that
   TorchScript compiles is invisible to coverage: ``FALLBACK`` names the tests run for it.
5. Prints killed/survived/timeout per module and overall, the kill rate with its 95%
   Wilson interval, and every surviving mutant as a diff. Mutants judged equivalent (no input
   through the public API can tell them from the original: a performance guard, a default no
   caller uses) are listed with the reason in ``tools/mutation_equivalent.txt``; they are
   not run and not counted. ``--json PATH`` writes the
   results; ``--rerun PATH`` re-runs the survivors of an earlier result file (after new
   tests were added).

Lines that carry ``# pragma: no mutate`` are not mutated.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TARGETS = ["dataaudit/checks/*.py", "dataaudit/profile/hashes.py", "dataaudit/fit/*.py",
           "dataaudit/transforms/*.py", "dataaudit/loader/cache.py", "dataaudit/baseline.py",
           "dataaudit/auth.py"]
"""Globs relative to the repository root."""

SKIP_TESTS = {"test_typing.py", "test_fast_start.py"}
"""Test files that exercise no logic of the targets (mypy, import-time checks)."""

FALLBACK = {
    "dataaudit/transforms/_scripted.py": ["tests/test_transforms.py::test_table_torchscript",
                                          "tests/test_transforms.py::test_image_torchscript",
                                          "tests/test_mutation_gaps_survivors.py::test_the_torchscript_image_module"],
}
"""Tests to run for a mutant on a line coverage cannot see (code compiled by TorchScript), as
node-id prefixes."""

COPY = ["dataaudit", "tests", "sample_data", "expectations", "pyproject.toml", "README.md", ".github",
        ".pre-commit-hooks.yaml"]


# -- mutants -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository root
    start: int  # byte offsets of the replaced text in the file
    end: int
    new: str
    kind: str
    line: int
    lines: tuple[int, ...]  # lines whose covering tests are run

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.start}:{self.kind}"

    @property
    def module(self) -> str:
        return self.path.removeprefix("dataaudit/").removesuffix(".py").replace("/", ".")

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.new.encode() + source[self.end:]

    def diff(self, source: bytes) -> str:
        old = source.decode().splitlines(keepends=True)
        new = self.apply(source).decode().splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path}", n=1))


BINOPS: dict[type, tuple[str, str]] = {
    ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
    ast.FloorDiv: ("//", "/"), ast.Mod: ("%", "//"), ast.Pow: ("**", "*"), ast.LShift: ("<<", ">>"),
    ast.RShift: (">>", "<<"), ast.BitAnd: ("&", "|"), ast.BitOr: ("|", "&"), ast.BitXor: ("^", "|"),
}
CMPOPS: dict[type, tuple[str, str]] = {
    ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in"),
    ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
}
SWAP_NAMES = {"min": "max", "max": "min", "any": "all", "all": "any"}


class _Source:
    def __init__(self, path: str, data: bytes) -> None:
        self.path, self.data = path, data
        self.starts = [0]
        for i, b in enumerate(data):
            if b == 0x0A:
                self.starts.append(i + 1)
        self.text_lines = data.decode().splitlines()

    def off(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.off(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.off(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def seg(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.data[a:b].decode()

    def pragma(self, line: int) -> bool:
        return "pragma: no mutate" in self.text_lines[line - 1]


def _find_op(src: _Source, left: ast.AST, right: ast.AST, symbol: str) -> tuple[int, int] | None:
    """Byte span of ``symbol`` between two operands (the gap holds only it, spaces and brackets)."""
    a, b = src.off(left.end_lineno, left.end_col_offset), src.off(right.lineno, right.col_offset)  # type: ignore[attr-defined]
    gap = src.data[a:b].decode()
    words = symbol.split()
    if len(words) == 2:  # "not in", "is not": any whitespace between the words
        i = gap.find(words[0])
        j = gap.find(words[1], i + len(words[0])) if i >= 0 else -1
        return (a + len(gap[:i].encode()), a + len(gap[: j + len(words[1])].encode())) if j >= 0 else None
    for i in range(len(gap)):
        if gap.startswith(symbol, i):
            before = gap[i - 1] if i else " "
            after = gap[i + len(symbol)] if i + len(symbol) < len(gap) else " "
            if symbol.isalpha() and (before.isalnum() or after.isalnum()):
                continue
            if not symbol.isalpha() and (before in "*/<>=!" or after in "*/<>="):
                continue
            return a + len(gap[:i].encode()), a + len(gap[: i + len(symbol)].encode())
    return None


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


class _Collector(ast.NodeVisitor):
    def __init__(self, src: _Source) -> None:
        self.src = src
        self.out: list[Mutant] = []
        self.stmt_lines: list[int] = []
        self.body_lines: set[int] = set()
        """While visiting a function's defaults: its body's lines (the def line runs at import)."""

    def add(self, node: ast.AST, start: int, end: int, new: str, kind: str) -> None:
        line = node.lineno  # type: ignore[attr-defined]
        if self.src.pragma(line):
            return
        lines = set(range(line, node.end_lineno + 1)) | self.body_lines  # type: ignore[attr-defined]
        if self.stmt_lines:
            lines.add(self.stmt_lines[-1])
        self.out.append(Mutant(self.src.path, start, end, new, kind, line, tuple(sorted(lines))))

    # subtrees that are text or types, not logic
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return

    def visit_Raise(self, node: ast.Raise) -> None:
        return

    def visit_Assert(self, node: ast.Assert) -> None:
        return

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.stmt_lines.append(node.lineno)
        if node.value is not None:
            self.visit(node.value)
        self.stmt_lines.pop()

    def _body(self, body: list[ast.stmt]) -> None:
        for i, st in enumerate(body):
            if i == 0 and isinstance(st, ast.Expr) and _is_str(st.value):
                continue  # docstring
            if isinstance(st, ast.Expr) and _is_str(st.value):
                continue  # attribute docstring
            self.visit(st)

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node.body)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        a = node.args
        self.body_lines = set(range(node.body[0].lineno, node.end_lineno + 1))  # type: ignore[operator]
        for default in [*a.defaults, *(d for d in a.kw_defaults if d is not None)]:
            self.stmt_lines.append(node.lineno)
            self.visit(default)
            self.stmt_lines.pop()
        self.body_lines = set()
        self._body(node.body)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self._body(node.body)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self.stmt_lines.append(node.lineno)
            self._statement(node)
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self._body(value)
                    continue
                for v in value:
                    if isinstance(v, ast.AST):
                        self.visit(v)
            elif isinstance(value, ast.AST):
                self.visit(value)
        if isinstance(node, ast.stmt):
            self.stmt_lines.pop()

    def visit_If(self, node: ast.If) -> None:
        if (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            return
        a, b = self.src.span(node.test)
        self.add(node.test, a, b, "True", "if_true")
        self.add(node.test, a, b, "False", "if_false")
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg == "message":
            return
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.generic_visit(node)

    def _statement(self, node: ast.stmt) -> None:
        src = self.src
        if isinstance(node, ast.Break | ast.Continue):
            a, b = src.span(node)
            self.add(node, a, b, "continue" if isinstance(node, ast.Break) else "break", "break_continue")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Yield | ast.YieldFrom | ast.Await):
            a, b = src.span(node)
            self.add(node, a, b, "pass", "remove_statement")
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINOPS:
            old, new = BINOPS[type(node.op)]
            span = _find_op(src, node.target, node.value, old + "=")
            if span:
                self.add(node, span[0], span[1], new + "=", "augassign")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in BINOPS and not (_is_str(node.left) or _is_str(node.right)):
            old, new = BINOPS[type(node.op)]
            span = _find_op(self.src, node.left, node.right, old)
            if span:
                self.add(node, span[0], span[1], new, "binop")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        left: ast.AST = node.left
        for op, right in zip(node.ops, node.comparators):
            old, new = CMPOPS[type(op)]
            span = _find_op(self.src, left, right, old)
            if span:
                self.add(node, span[0], span[1], new, "compare")
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:]):
            span = _find_op(self.src, left, right, old)
            if span:
                self.add(node, span[0], span[1], new, "boolop")
        if len(node.values) == 2:
            a, b = self.src.span(node)
            for keep in node.values:
                self.add(node, a, b, f"({self.src.seg(keep)})", "drop_operand")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not | ast.USub):
            a, b = self.src.span(node)
            self.add(node, a, b, f"({self.src.seg(node.operand)})", "unaryop")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        a, b = self.src.span(node)
        if isinstance(v, bool):
            self.add(node, a, b, str(not v), "constant")
        elif isinstance(v, int):
            self.add(node, a, b, str(0 if v == 1 else v + 1), "constant")
        elif isinstance(v, float) and math.isfinite(v):
            self.add(node, a, b, repr(v * 2 if v else 1.0), "constant")

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in SWAP_NAMES:
            a, b = self.src.span(node.func)
            self.add(node, a, b, SWAP_NAMES[node.func.id], "swap_call")
        self.generic_visit(node)


def mutants_of(path: str, data: bytes) -> list[Mutant]:
    """Every mutant of one file that still compiles, in file order."""
    src = _Source(path, data)
    tree = ast.parse(data)
    c = _Collector(src)
    c.visit(tree)
    out: list[Mutant] = []
    seen: set[tuple[int, int, str]] = set()
    for m in c.out:
        if (m.start, m.end, m.new) in seen or data[m.start:m.end].decode() == m.new:
            continue
        seen.add((m.start, m.end, m.new))
        try:
            compile(m.apply(data), path, "exec")
        except SyntaxError:
            continue
        out.append(m)
    return sorted(out, key=lambda m: (m.start, m.end, m.new))


def target_files(root: Path) -> list[str]:
    found: set[str] = set()
    for pattern in TARGETS:
        found.update(p.relative_to(root).as_posix() for p in root.glob(pattern))
    return sorted(found)


# -- coverage map -------------------------------------------------------------------------------------------
PLUGIN = '''
import json, os
import coverage
import pytest

_durations = {}
_failed = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")


def pytest_runtest_logreport(report):
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _failed.add(report.nodeid)


def pytest_sessionfinish(session):
    with open(os.environ["MUTATION_TESTS_OUT"], "w") as fh:
        json.dump({"durations": _durations, "failed": sorted(_failed)}, fh)
'''


def _digest(paths: Iterable[Path], named: Path) -> str:
    """Of the working tree's files at ``paths`` (relative), named as under ``named``."""
    h = hashlib.blake2b(digest_size=12)
    for p in sorted(named / q for q in paths):
        h.update(p.as_posix().encode() + b"\0" + (REPO / p.relative_to(named)).read_bytes())
    return h.hexdigest()


@dataclass
class CoverageMap:
    lines: dict[str, dict[int, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    durations: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    _rarity: dict[str, Counter[str]] = field(default_factory=dict)

    def rarity(self, path: str) -> Counter[str]:
        """Per test, the sum over the lines of ``path`` it executes of 1 / (tests executing that
        line): high for a test that reaches lines few others reach (a check's findings)."""
        if path not in self._rarity:
            score: Counter[str] = Counter()
            for tests in self.lines.get(path, {}).values():
                for t in tests:
                    score[t] += 1.0 / len(tests)  # type: ignore[assignment]
            self._rarity[path] = score
        return self._rarity[path]

    def tests_for(self, m: Mutant, budget: float = 0.0, first: tuple[str, ...] = ()) -> list[str]:
        """The tests that execute the mutated lines, fastest first; with a ``budget`` (seconds of
        their measured time) taken round-robin over their test files until it is spent, each
        file's tests in order of :meth:`rarity` (a test that reaches a check's findings is likelier
        to look at them than a scan that merely passes through)."""
        per_line = self.lines.get(m.path, {})
        tests = set().union(*(per_line.get(n, set()) for n in m.lines)) - self.failed
        if not tests and m.path in FALLBACK:
            tests = {t for t in self.durations if t.startswith(tuple(FALLBACK[m.path]))} - self.failed
        if not budget:
            return sorted(tests, key=lambda t: (self.durations.get(t, 1.0), t))
        rare = self.rarity(m.path)
        ordered = sorted(tests, key=lambda t: (-rare[t], self.durations.get(t, 1.0), t))
        if first:  # covering tests of the named files (node-id prefixes) go first, whatever the budget
            head = [t for t in ordered if t.startswith(first)]
            rest = self.tests_for_budget([t for t in ordered if not t.startswith(first)], rare,
                                         budget - sum(self.durations.get(t, 1.0) for t in head))
            return head + rest
        return self.tests_for_budget(ordered, rare, budget)

    def tests_for_budget(self, ordered: list[str], rare: Counter[str], budget: float) -> list[str]:
        if budget <= 0 or not ordered:
            return []
        by_file: dict[str, list[str]] = defaultdict(list)
        for t in ordered:
            by_file[t.split("::")[0]].append(t)
        queues = sorted(by_file.values(), key=lambda q: (-rare[q[0]], self.durations.get(q[0], 1.0)))
        chosen: list[str] = []
        spent = 0.0
        while queues and (not chosen or spent < budget):
            for q in list(queues):
                t = q.pop(0)
                chosen.append(t)
                spent += self.durations.get(t, 1.0)
                if not q:
                    queues.remove(q)
                if spent >= budget:
                    break
        return sorted(chosen, key=lambda t: (self.durations.get(t, 1.0), t))


def _env(scratch: Path, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(scratch), str(scratch / "tests"), str(work)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a mutant of the same size and second must not reuse a stale .pyc
    env["PYTHONHASHSEED"] = "0"
    return env


def collect_coverage(scratch: Path, work: Path, test_files: list[str], targets: list[str],
                     run: bool = True) -> CoverageMap:
    """Run each test file once under coverage (cached; with ``run=False`` only the cache is read)
    and merge the per-test line maps."""
    import coverage

    (work / "_mutation_plugin.py").write_text(PLUGIN)
    tests_dir = scratch / "tests"
    # keyed on the working tree's files (the scratch copy may hold a mutant while another run reads it)
    shared = [p for p in (REPO / "tests").glob("*.py") if not p.name.startswith("test_")]
    base = _digest([p.relative_to(REPO) for p in [*(REPO / "dataaudit").rglob("*.py"), *shared]], scratch)
    cmap = CoverageMap()
    cache = work / "coverage"
    cache.mkdir(exist_ok=True)
    for name in test_files:
        key = hashlib.blake2b((base + _digest([Path("tests") / name], scratch)).encode(), digest_size=12).hexdigest()
        data_file = cache / f"{name}.{key}.cov"
        tests_out = cache / f"{name}.{key}.json"
        if not tests_out.exists() and not run:
            print(f"coverage: {name} not collected yet")
            continue
        if not tests_out.exists():
            t0 = time.perf_counter()
            print(f"coverage: running {name} ...", end=" ", flush=True)
            env = _env(scratch, work) | {"MUTATION_TESTS_OUT": str(tests_out) + ".tmp"}
            cmd = [sys.executable, "-m", "coverage", "run", f"--data-file={data_file}",
                   "--include=" + ",".join(str(scratch / t) for t in targets),
                   "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_mutation_plugin", f"tests/{name}"]
            subprocess.run(cmd, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not Path(str(tests_out) + ".tmp").exists():
                print("no result (collection error?)")
                continue
            os.replace(str(tests_out) + ".tmp", tests_out)
            print(f"{time.perf_counter() - t0:.0f} s")
        doc = json.loads(tests_out.read_text())
        cmap.durations.update(doc["durations"])
        cmap.failed.update(doc["failed"])
        if doc["failed"]:
            print(f"coverage: {len(doc['failed'])} test(s) of {name} fail on the unmutated code and are left out")
        if not data_file.exists():
            continue
        data = coverage.CoverageData(basename=str(data_file))
        data.read()
        for measured in data.measured_files():
            rel = Path(measured).resolve().relative_to(scratch.resolve()).as_posix()
            for line, contexts in (data.contexts_by_lineno(measured) or {}).items():
                cmap.lines[rel][line].update(c for c in contexts if c)
    return cmap


# -- running -------------------------------------------------------------------------------------------------
def make_scratch(work: Path) -> Path:
    scratch = work / "tree"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".mypy_cache")
    for name in COPY:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, scratch / name, ignore=ignore)
        elif p.exists():
            shutil.copy2(p, scratch / name)
    return scratch


def run_mutant(m: Mutant, scratch: Path, work: Path, cmap: CoverageMap, original: bytes,
               timeout_factor: float, budget: float, first: tuple[str, ...] = ()) -> tuple[str, float, str]:
    """(status, seconds, the test that killed it)."""
    tests = cmap.tests_for(m, budget, first)
    if not tests:
        return "uncovered", 0.0, ""
    target = scratch / m.path
    limit = 60.0 + timeout_factor * sum(cmap.durations.get(t, 1.0) for t in tests)
    t0 = time.perf_counter()
    target.write_bytes(m.apply(original))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rfE",
             "-W", "ignore", *tests],
            cwd=scratch, env=_env(scratch, work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            return "timeout", time.perf_counter() - t0, ""
    finally:
        target.write_bytes(original)
    took = time.perf_counter() - t0
    if proc.returncode == 0:
        return "survived", took, ""
    if proc.returncode == 5:  # no tests ran: the selection is stale
        return "error", took, "no tests collected"
    killer = next((ln.split(" ", 1)[1].split(" - ")[0] for ln in out.decode(errors="replace").splitlines()
                   if ln.startswith(("FAILED ", "ERROR "))), f"exit {proc.returncode}")
    return "killed", took, killer


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def summarise(results: list[dict[str, object]], totals: Counter[str]) -> str:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        by_module[str(r["module"])][str(r["status"])] += 1
    lines = [f"{'module':28} {'mutants':>7} {'tried':>5} {'killed':>6} {'timeout':>7} {'survived':>8} "
             f"{'uncov':>5} {'equiv':>5} {'rate':>6}  95% interval"]

    def row(name: str, c: Counter[str], total: int | str) -> str:
        detected = c["killed"] + c["timeout"]
        n = detected + c["survived"] + c["uncovered"]
        lo, hi = wilson(detected, n)
        rate = f"{detected / n:.1%}" if n else "-"
        return (f"{name:28} {total:>7} {n + c['equivalent']:>5} {c['killed']:>6} {c['timeout']:>7} {c['survived']:>8} "
                f"{c['uncovered']:>5} {c['equivalent']:>5} {rate:>6}  [{lo:.1%}, {hi:.1%}]")

    everything: Counter[str] = Counter()
    for module in sorted(by_module):
        lines.append(row(module, by_module[module], totals[module]))
        everything.update(by_module[module])
    lines.append(row("ALL", everything, sum(totals.values())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=0, help="run a random sample of N mutants (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample")
    ap.add_argument("--only", nargs="*", default=[], help="only files whose path contains one of these")
    ap.add_argument("--rerun", type=Path, nargs="+", help="re-run the survived/uncovered mutants of earlier --json files")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dataaudit-mutation")
    ap.add_argument("--timeout-factor", type=float, default=4.0, help="per mutant: 60 s + this x the tests' time")
    ap.add_argument("--budget", type=float, default=40.0,
                    help="per mutant, run covering tests worth this many seconds of their measured time "
                         "(fastest first, round-robin over test files; 0: all of them)")
    ap.add_argument("--first", nargs="*", default=[],
                    help="node-id prefixes (e.g. tests/test_mutation_gaps) whose covering tests run first, "
                         "outside the budget")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--list", action="store_true", help="only count the mutants per module")
    ap.add_argument("--report", type=Path, nargs="+", help="only summarise these result files (later ones win)")
    ap.add_argument("--equivalent", type=Path, default=REPO / "tools" / "mutation_equivalent.txt",
                    help="mutant ids judged equivalent (one per line, '# why' after it): not run, not counted")
    args = ap.parse_args(argv)
    equivalent = Equivalent(args.equivalent)
    if args.report:
        return report(args.report, equivalent)

    targets = target_files(REPO)
    if args.only:
        targets = [t for t in targets if any(o in t for o in args.only)]
    originals = {t: (REPO / t).read_bytes() for t in targets}
    mutants = [m for t in targets for m in mutants_of(t, originals[t])]
    totals = Counter(m.module for m in mutants)
    if args.list:
        for module, n in sorted(totals.items()):
            print(f"{module:28} {n:5}")
        print(f"{'ALL':28} {len(mutants):5}  ({Counter(m.kind for m in mutants).most_common()})")
        return 0
    chosen = mutants
    if args.rerun:
        latest: dict[tuple[str, str], str] = {}
        for p in args.rerun:  # in order: a later file's status for a mutant replaces an earlier one
            for r in json.loads(p.read_text())["results"]:
                latest[r["id"], r["diff"]] = r["status"]
        again = {key for key, status in latest.items() if status in ("survived", "uncovered", "error")}
        chosen = [m for m in mutants if (m.id, m.diff(originals[m.path])) in again]
        again = {mid for mid, _ in again}
        gone = again - {m.id for m in chosen}
        if gone:
            print(f"{len(gone)} earlier mutant(s) no longer exist (the code changed): {sorted(gone)[:5]}")
    elif args.sample and args.sample < len(mutants):
        # kept in the sampled (random) order: any prefix of an interrupted run is itself a random sample
        chosen = random.Random(args.seed).sample(mutants, args.sample)
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = make_scratch(args.work)
    test_files = sorted(p.name for p in (REPO / "tests").glob("test_*.py") if p.name not in SKIP_TESTS)
    cmap = collect_coverage(scratch, args.work, test_files, targets)
    print(f"{len(mutants)} mutants in {len(targets)} files; running {len(chosen)}")
    results: list[dict[str, object]] = []
    t_start = time.perf_counter()
    for i, m in enumerate(chosen, 1):
        why = equivalent.why(m.id, m.diff(originals[m.path]))
        if why is not None:
            status, took, killer = "equivalent", 0.0, why
        else:
            status, took, killer = run_mutant(m, scratch, args.work, cmap, originals[m.path], args.timeout_factor,
                                              args.budget, tuple(args.first))
        results.append({"id": m.id, "module": m.module, "kind": m.kind, "line": m.line, "status": status,
                        "seconds": round(took, 1), "killed_by": killer, "diff": m.diff(originals[m.path])})
        print(f"[{i}/{len(chosen)} {time.perf_counter() - t_start:.0f}s] {status:9} {m.id}  {killer}", flush=True)
        if args.json:  # written after every mutant: an interrupted run keeps what it measured
            _write_json(args.json, args, len(mutants), totals, results)
    survivors = [r for r in results if r["status"] in ("survived", "uncovered", "error")]
    if survivors:
        print("\nSurviving mutants:")
        for r in survivors:
            print(f"\n# {r['status']}: {r['id']}\n{r['diff']}", end="")
    print("\n" + summarise(results, totals))
    return 0


def _write_json(path: Path, args: argparse.Namespace, n: int, totals: Counter[str],
                results: list[dict[str, object]]) -> None:
    doc = {"sample": args.sample, "seed": args.seed, "budget": args.budget, "rerun": bool(args.rerun), "mutants": n,
           "totals": dict(totals), "results": results}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


class Equivalent:
    """The mutants judged equivalent: ``ID [| TEXT]  # why`` per line; ``TEXT`` (a piece of the
    mutated line) tells apart two mutants of one id (dropping the left or the right operand)."""

    def __init__(self, path: Path) -> None:
        self.entries: dict[str, list[tuple[str, str]]] = defaultdict(list)
        if path.is_file():
            for line in path.read_text().splitlines():
                spec, _, why = line.partition("#")
                mid, _, text = spec.partition("|")
                if mid.strip():
                    self.entries[mid.strip()].append((text.strip(), why.strip()))

    def why(self, mid: str, diff: str) -> str | None:
        added = "".join(ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
        return next((why for text, why in self.entries.get(mid, []) if text in added), None)


def report(paths: list[Path], equivalent: Equivalent) -> int:
    """Print the summary and the survivors of result files; a later file's result for a mutant
    (a ``--rerun``) replaces an earlier one."""
    # Two mutants can share an id (dropping either operand of one ``and``): the diff tells them apart.
    merged: dict[tuple[str, str], dict[str, object]] = {}
    totals: Counter[str] = Counter()
    for p in paths:
        doc = json.loads(p.read_text())
        totals = Counter(doc["totals"])
        rerun = doc.get("rerun", p.name.startswith("rerun"))
        for r in doc["results"]:
            key = (str(r["id"]), str(r["diff"]))
            if not rerun or key in merged:  # a re-run updates the sampled mutants, adds none
                merged[key] = r
    for (mid, diff), r in merged.items():
        why = equivalent.why(mid, diff)
        if why is not None and r["status"] != "killed":
            r["status"], r["killed_by"] = "equivalent", why
    results = list(merged.values())
    for r in results:
        if r["status"] == "equivalent":
            print(f"\n# equivalent ({r['killed_by']}): {r['id']}\n{r['diff']}", end="")
    for r in results:
        if r["status"] in ("survived", "uncovered", "error"):
            print(f"\n# {r['status']}: {r['id']}\n{r['diff']}", end="")
    print("\n" + summarise(results, totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
