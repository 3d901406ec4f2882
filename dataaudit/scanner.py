"""The scan pipeline behind ``dataaudit.scan``: source -> one pass of statistics -> checks -> report."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataaudit.checks.registry import CheckContext, iter_specs
from dataaudit.config import Config, build_config
from dataaudit.errors import UsageError
from dataaudit.profile.dataset import DatasetStats, profile_dataset
from dataaudit.resources import check_memory
from dataaudit.report.model import Finding, Report, Severity
from dataaudit.sources import open_source
from dataaudit.sources.base import Batch, Dataset


def run_checks(stats: DatasetStats, config: Config, extras: dict[str, Any] | None = None,
               progress: Callable[[str], None] | None = None) -> list[Finding]:
    """Every registered check on ``stats``; ignores and severity overrides applied.

    ``progress(text)`` is told which check runs, and how far the key stage is.
    """
    from concurrent.futures import ThreadPoolExecutor

    ctx = CheckContext(config=config, extras=extras or {})
    specs = [spec for spec in iter_specs() if not all(i in config.ignore for i in spec.ids)]
    results: list[list[Finding]] = [[] for _ in specs]
    indexed = [k for k, spec in enumerate(specs) if INDEXED_CHECKS & set(spec.ids)]
    say = progress or (lambda text: None)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataaudit-index") as pool:
        # The key stage (sorts over every split's hashes, outside the GIL) runs while the other
        # checks run; the checks that read its answers run after.
        index = None
        if indexed:
            from dataaudit.checks.duplicates import precompute

            def steps(kind: str, done: int, total: int) -> None:
                say(f"key stage: {KIND_NAMES.get(kind, kind)}, partition {done}/{total}")

            index = pool.submit(precompute, stats, ctx.example_cap, steps if progress else None)
        for k, spec in enumerate(specs):
            if k not in indexed:
                say(f"check {spec.ids[0]}")
                results[k] = list(spec.func(stats, ctx))
        if index is not None:
            say("key stage: equal rows and texts across splits")
            index.result()
        for k in indexed:
            say(f"check {specs[k].ids[0]}")
            results[k] = list(specs[k].func(stats, ctx))
    return apply_policy([f for found in results for f in found], config)


KIND_NAMES = {"content": "equal rows", "norm": "equal normalised texts"}


INDEXED_CHECKS = frozenset({"duplicates", "split_overlap", "near_duplicates", "near_split_overlap", "conflicting_labels"})
"""Checks that read the shared key indexes of :func:`dataaudit.checks.duplicates.precompute`."""


def apply_policy(findings: list[Finding], config: Config) -> list[Finding]:
    out = []
    for f in findings:
        if f.check in config.ignore:
            continue
        if f.check in config.severity:
            f.severity = config.severity[f.check]
        out.append(f)
    return out


def parse_floats(text: str | list[float] | None, what: str) -> list[float] | None:
    if text is None:
        return None
    if isinstance(text, list):
        return [float(x) for x in text]
    try:
        return [float(x) for x in str(text).replace(" ", "").split(",") if x]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated numbers, e.g. 0.485,0.456,0.406") from None


def supplied_normalization(artefact: str | Path | None, mean: Any, std: Any) -> dict[str, Any] | None:
    """What ``--artefact`` or ``--mean/--std`` say the training code will apply."""
    m, s = parse_floats(mean, "--mean"), parse_floats(std, "--std")
    if (m is None) != (s is None):
        raise UsageError("--mean and --std go together")
    if m is not None and s is not None and len(m) != len(s):
        raise UsageError("--mean and --std need the same number of values")
    out: dict[str, Any] | None = None
    if artefact is not None:
        from dataaudit.fit import load_artefact
        from dataaudit.fit import supplied_normalization as from_artefact

        out = from_artefact(load_artefact(artefact))
    if m is not None:
        out = dict(out or {})
        out["image"] = {"mean": m, "std": s}
    return out


class ScanProgress:
    """What a scan shows on stderr while it runs, when stderr is a terminal (rich).

    One line from start to end: opening the dataset, reading and profiling
    (bytes or rows, with the rate), then each check and the key stage's
    partitions. Rich redraws it ten times a second (the spinner and the elapsed
    time move even while one step runs), so the screen is never still.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._rows = 0
        self._started = time.perf_counter()

    def __enter__(self) -> ScanProgress:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                             TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                             console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        self._task = self._bar.add_task("[bold]opening[/] the dataset", total=None, info="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def reading(self, dataset: Dataset) -> None:
        """The dataset is open: reading starts (a bar when its size is known)."""
        if self._bar is not None:
            self._started = time.perf_counter()
            self._bar.update(self._task, description="[bold]scanning[/]", total=dataset.total_bytes or None,
                             completed=0)

    def on_batch(self, batch: Batch) -> None:
        if self._bar is None:
            return
        if batch.frame is not None:
            self._rows += batch.frame.height
        elif isinstance(batch.payload, list):
            self._rows += len(batch.payload)
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        self._bar.update(self._task, advance=batch.nbytes, description=f"[bold]scanning[/] {batch.split}",
                         info=f"{self._rows:,} rows, {self._rows / elapsed:,.0f} rows/s")

    def step(self, text: str) -> None:
        """A phase after reading (a check, a part of the key stage)."""
        if self._bar is not None:
            self._bar.update(self._task, description=f"[bold]checking[/] {self._rows:,} rows", info=text,
                             total=None)


def scan(
    path: str | Path,
    *,
    config: Config | None = None,
    config_file: str | None = None,
    expectations: str | Path | None = None,
    baseline: str | Path | None = None,
    artefact: str | Path | None = None,
    mean: Any = None,
    std: Any = None,
    **options: Any,
) -> Report:
    """Audit the dataset at ``path`` and return the :class:`~dataaudit.report.Report`.

    ``options`` are :class:`~dataaudit.config.Config` fields (``label``, ``fail_on``,
    ``max_examples``, ``params={"distribution_shift": {"ks_warning": 0.2}}``, ...).
    """
    start = time.perf_counter()
    cfg = config if config is not None else build_config(str(path), config_file, **options)
    extras: dict[str, Any] = {}
    normalization = supplied_normalization(artefact, mean, std)
    if normalization:
        extras["normalization"] = normalization
    with ScanProgress(cfg.progress) as progress:
        dataset = open_source(path, cfg)
        if artefact is not None:  # an artefact of another dataset or modality: exit 2, one line
            from dataaudit.fit.compat import check_artefact_file

            check_artefact_file(artefact, dataset)
        check_memory(dataset.total_bytes, (cfg.workers or 1) if dataset.modality == "image" else 1)
        validator = None
        if expectations is not None:
            # Great Expectations is imported only if the suite holds types native.py does not answer.
            from dataaudit.expectations.validate import SuiteValidator

            validator = SuiteValidator(expectations, dataset, cfg)
        progress.reading(dataset)

        def on_batch(batch: Batch) -> None:
            if validator is not None:
                validator.update(batch)
            progress.on_batch(batch)

        stats = profile_dataset(dataset, cfg, on_batch=on_batch if (validator or progress.enabled) else None)
        findings = run_checks(stats, cfg, extras, progress.step if progress.enabled else None)
    if validator is not None:
        findings += apply_policy(validator.findings(), cfg)
    splits: dict[str, dict[str, Any]] = {}
    for split in stats.ordered:
        info: dict[str, Any] = {"rows": split.rows, "files": split.files[:50]}
        if split.record_problem_counts:
            info["malformed_records"] = sum(split.record_problem_counts.values())
        if split.file_problems:
            info["unreadable_files"] = len(split.file_problems)
        splits[split.name] = info
    if not splits:
        splits = {"train": {"rows": 0}}
    notes = list(cfg.notes) + [n for n in stats.notes if n not in cfg.notes]
    if stats.partial and not any("partial" in n for n in notes):
        notes.append("partial scan: each split was read only up to --max-rows rows")
    report = Report(
        source=str(path), modality=stats.modality, splits=splits, findings=findings,
        label_column=stats.label_column, fail_on=cfg.fail_on, detected=stats.detected, notes=notes,
        partial=stats.partial, max_examples=cfg.max_examples, stats=stats,
        config={"sources": cfg.sources, "effective": cfg.effective()},
    )
    if baseline is not None:
        from dataaudit.baseline import apply_baseline

        report = apply_baseline(report, baseline, cfg.baseline_tolerance)
    report.duration_s = time.perf_counter() - start
    return report


__all__ = ["Severity", "run_checks", "scan"]
