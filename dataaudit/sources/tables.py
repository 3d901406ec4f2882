"""Table files: the extension -> reader table, and layout detection for tables.

Every reader yields located :class:`~dataaudit.sources.base.Batch` objects whose
frame carries the ``__row__`` column (the data-row index within the split, counted
across shards in sorted file-name order).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dataaudit.errors import SourceError, UsageError
from dataaudit.sources.base import ROW, Batch, Dataset, FileProblem, RecordProblem, SplitInfo, canonical_split, split_order
from dataaudit.sources.coalesce import coalesce
from dataaudit.sources.delimited import CHUNK_BYTES, DelimitedReader, Dialect, head_schema, looks_binary, open_binary, sniff
from dataaudit.sources.localfs import entry_problem

if TYPE_CHECKING:
    from dataaudit.config import Config

COMPRESSIONS = (".gz", ".zst", ".zstd")
FORMATS: dict[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}  # fmt: skip
"""Extension -> format. Compressed variants add ``.gz``/``.zst`` after the extension."""
PREFERRED_DELIMITER = {"csv": ",", "tsv": "\t", "txt": None}
LABEL_CANDIDATES = ("label", "labels", "target", "class", "y", "species", "category")
TEXT_CANDIDATES = ("text", "sentence", "content", "review")
ID_PATTERN = re.compile(r"(?i:^(id|idx|index|uuid|guid|key|row_?id|unnamed: ?\d+|column_1|)$|[_\-. ]id$)|[a-z0-9](Id|ID)$")
"""Id-like column names: ``id``, ``user_id``, ``user-id``, ``userId``, ``userID``; not ``malic_acid``, ``paid``, ``VALID``."""
BATCH_ROWS = 250_000
SHARDS_PROBED = 64
"""Column types are inferred from the heads of at most this many delimited files (spread over the list)."""


def table_format(path: Path) -> tuple[str, str] | None:
    """``("csv", "data")`` for ``data.csv.gz``: the format and the stem; ``None`` if not a table."""
    name = path.name
    lower = name.lower()
    for comp in COMPRESSIONS:
        if lower.endswith(comp):
            lower, name = lower[: -len(comp)], name[: -len(comp)]
            break
    for ext, fmt in FORMATS.items():
        if lower.endswith(ext):
            return fmt, name[: -len(ext)]
    return None


@dataclass
class TableFile:
    """A table file and what was learned about it before reading."""

    path: Path
    rel: str
    format: str
    columns: list[str] = field(default_factory=list)
    dialect: Dialect | None = None
    problem: FileProblem | None = None
    schema: dict[str, pl.DataType] | None = None
    """Types to read delimited text with (unified over the whole dataset)."""


def inspect_file(path: Path, rel: str, fmt: str, split: str | None, cfg: Config) -> TableFile:
    """Learn a file's columns (and dialect) cheaply; broken files become problems."""
    tf = TableFile(path, rel, cfg.format or fmt)
    try:
        if path.stat().st_size == 0:
            tf.problem = FileProblem(split, rel, "empty", "the file is empty (0 bytes)")
            return tf
        if tf.format in ("csv", "tsv", "txt"):
            preferred = PREFERRED_DELIMITER.get(tf.format)
            dia = sniff(path, cfg.delimiter, preferred, cfg.encoding)
            if dia.binary:
                tf.problem = FileProblem(split, rel, "binary", "not a delimited text file: binary content")
            elif dia.empty:
                tf.problem = FileProblem(split, rel, "empty", "the file holds no text")
            tf.dialect, tf.columns = dia, dia.header
        elif tf.format == "parquet":
            tf.columns = list(pl.read_parquet_schema(path))
        elif tf.format == "jsonl":
            with open_binary(path) as fh:
                head = fh.read(1024 * 1024)
            if looks_binary(head):
                tf.problem = FileProblem(split, rel, "binary", "not a JSON-lines file: binary content")
            else:
                for line in head.splitlines():
                    if line.strip():
                        try:
                            obj = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(obj, dict):
                            tf.columns = list(obj)
                            break
        else:
            raise UsageError(f"--format {tf.format!r}: use csv, tsv, txt, parquet or jsonl")
    except UsageError:
        raise
    except Exception as exc:  # a broken file is a finding, not a crash
        tf.problem = FileProblem(split, rel, "unreadable", f"cannot read: {type(exc).__name__}: {exc}"[:300])
    return tf


def _broken(path: Path, rel: str, split: str | None, problem: tuple[str, str]) -> TableFile:
    """A table name that cannot be read: its problem, and nothing opened."""
    fmt = table_format(path)
    return TableFile(path, rel, fmt[0] if fmt else "csv", problem=FileProblem(split, rel, problem[0], problem[1]))


# -- readers: one per format, each yields (frame, problems, nbytes) with file-level rows ----------
Chunk = tuple[pl.DataFrame | None, list[RecordProblem], int]


def _read_delimited(tf: TableFile, split: str | None) -> Iterator[Chunk]:
    assert tf.dialect is not None
    reader = DelimitedReader(tf.path, tf.rel, tf.dialect, split or "", chunk_bytes=CHUNK_BYTES, schema=tf.schema)
    for frame, problems, nbytes in reader.frames():
        if split is None:
            problems = [replace(p, split=None, row=None) for p in problems]
        yield frame, problems, nbytes


def _read_parquet(tf: TableFile, split: str | None) -> Iterator[Chunk]:
    offset = 0
    size = tf.path.stat().st_size
    rows_total = max(pl.scan_parquet(tf.path).select(pl.len()).collect().item(), 1)
    for frame in pl.scan_parquet(tf.path).collect_batches(chunk_size=BATCH_ROWS):
        n = frame.height
        frame = frame.with_columns(pl.int_range(offset, offset + n, dtype=pl.Int64).alias(ROW))
        offset += n
        yield frame, [], int(size * n / rows_total)


def _read_jsonl(tf: TableFile, split: str | None) -> Iterator[Chunk]:
    offset = 0
    line_no = 1
    pending = b""
    with open_binary(tf.path) as fh:
        while True:
            data = fh.read(CHUNK_BYTES)
            final = not data
            pending += data
            cut = len(pending) if final else pending.rfind(b"\n") + 1
            if cut <= 0:
                if final:
                    break
                continue  # no complete line yet: read more
            body, pending = pending[:cut], pending[cut:]
            lines = body.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            good: list[bytes] = []
            rows: list[int] = []
            problems: list[RecordProblem] = []
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                kind, column = "bad_json", None
                try:
                    ok = isinstance(json.loads(line), dict)
                except UnicodeDecodeError:  # reported, never read lossily
                    ok, kind, column = False, "invalid_utf8", _undecodable_key(line)
                except ValueError:
                    ok = False
                if ok:
                    good.append(line)
                    rows.append(offset)
                else:
                    text = line.decode("utf-8", "replace")[:200]
                    problems.append(RecordProblem(split, tf.rel, offset if split else None, line_no + i,
                                                  kind, 0, len(tf.columns), text, column))
                offset += 1
            line_no += len(lines)
            frame = None
            if good:
                try:
                    frame = pl.read_ndjson(b"\n".join(good), infer_schema_length=None)
                except pl.exceptions.PolarsError:
                    frame = pl.from_dicts([json.loads(g) for g in good], infer_schema_length=None)
                frame = frame.with_columns(pl.Series(ROW, np.asarray(rows, dtype=np.int64)))
            yield frame, problems, len(body)
            if final:
                break


def _undecodable_key(line: bytes) -> str | None:
    """The key of the first field of a JSON line whose bytes are not valid UTF-8 (``None`` if
    the line is not a JSON object even with those bytes set aside)."""
    try:
        obj = json.loads(line.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if any("\udc80" <= ch <= "\udcff" for ch in f"{key}{value}"):
            return str(key).encode("utf-8", "replace").decode("utf-8", "replace")
    return None


READERS: dict[str, Callable[[TableFile, str | None], Iterator[Chunk]]] = {
    "csv": _read_delimited, "tsv": _read_delimited, "txt": _read_delimited,
    "parquet": _read_parquet, "jsonl": _read_jsonl,
}  # fmt: skip


def read_split_files(split: str, files: list[TableFile]) -> Iterator[Batch]:
    """Batches of one split; rows numbered across its files in sorted order."""
    offset = 0
    for tf in files:
        if tf.problem is not None:
            yield Batch(split, tf.rel, files=[tf.problem], columns=tf.columns or None)
            continue
        first = True
        rows_in_file = 0  # highest file-level row index seen + 1
        try:
            for frame, problems, nbytes in READERS[tf.format](tf, split):
                if frame is not None and frame.height:
                    rows_in_file = max(rows_in_file, int(frame[ROW].max()) + 1)  # type: ignore[arg-type]
                    if offset:
                        frame = frame.with_columns(pl.col(ROW) + offset)
                    # One buffer per column (parsers return pieces): the profile passes over each
                    # column many times, and most of its kernels would otherwise concatenate the
                    # pieces again on every pass. Done here, in the read-ahead thread.
                    frame = frame.rechunk()
                for p in problems:
                    if p.row is not None:
                        rows_in_file = max(rows_in_file, p.row + 1)
                if offset:
                    problems = [_shift(p, offset) for p in problems]
                yield Batch(split, tf.rel, frame=frame, records=problems, nbytes=nbytes,
                            columns=tf.columns if first else None)
                first = False
        except Exception as exc:  # a file that breaks mid-way is a finding
            yield Batch(split, tf.rel, files=[FileProblem(split, tf.rel, "unreadable",
                                                          f"cannot read: {type(exc).__name__}: {exc}"[:300])])
        offset += rows_in_file


def _shift(p: RecordProblem, offset: int) -> RecordProblem:
    if p.row is None:
        return p
    return replace(p, row=p.row + offset)


def read_split_column(tf: TableFile, column: str, wanted: set[str] | None) -> Iterator[Batch]:
    """One file with a split column: route rows to splits, numbering rows per split."""
    counters: dict[str, int] = {}
    if tf.problem is not None:
        yield Batch("train", tf.rel, files=[tf.problem])
        return
    first = True
    for frame, problems, nbytes in READERS[tf.format](tf, None):
        if problems:
            yield Batch("train", tf.rel, records=problems)
        if frame is None:
            continue
        names = frame[column].cast(pl.String).str.strip_chars()
        mapped = names.map_elements(lambda v: canonical_split(v) or v, return_dtype=pl.String) if names.n_unique() > 0 else names
        frame = frame.with_columns(mapped.fill_null("(missing)").alias(column))
        for (split_name,), part in frame.partition_by(column, as_dict=True, maintain_order=True).items():
            split_name = str(split_name)
            if wanted is not None and split_name not in wanted:
                continue
            start = counters.get(split_name, 0)
            part = part.with_columns(pl.int_range(start, start + part.height, dtype=pl.Int64).alias(ROW))
            counters[split_name] = start + part.height
            yield Batch(split_name, tf.rel, frame=part.rechunk(), nbytes=nbytes, columns=tf.columns if first else None)
            nbytes = 0
        first = False
    if not counters and (wanted is None or "train" in wanted):
        # No data row at all (a header-only file): the dataset still has a split, and it is empty.
        yield Batch("train", tf.rel, columns=tf.columns)


def _find_column(columns: list[str], wanted: str) -> str | None:
    for col in columns:
        if col == wanted:
            return col
    low = wanted.lower()
    for col in columns:
        if col.lower() == low:
            return col
    return None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _table_files(folder: Path, root_real: str, broken: dict[Path, tuple[str, str]]) -> list[Path]:
    """Table files of ``folder``, sorted. A table name that is not a regular file inside the
    dataset (a dangling link, a link out of it, a FIFO, a device) is listed too, with its
    problem in ``broken``: a split or shard that is a name only must not vanish."""
    out: list[Path] = []
    for entry in _entries(folder, root_real, broken):
        if entry.name.startswith(".") or table_format(Path(entry.name)) is None:
            continue
        kind, message, st = entry_problem(entry, root_real)
        if kind:
            broken[Path(entry.path)] = (kind, message)
        elif entry.is_dir(follow_symlinks=False) or (st is not None and stat.S_ISDIR(st.st_mode)):
            continue  # a folder named like a table
        out.append(Path(entry.path))
    return sorted(out)


def _entries(folder: Path, root_real: str, broken: dict[Path, tuple[str, str]]) -> list[os.DirEntry[str]]:
    """The entries of ``folder``; an unlistable split folder is itself a problem (the root: exit 2)."""
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if os.path.realpath(folder) == root_real:
            raise SourceError(f"cannot list the dataset folder: {exc.strerror or exc}", str(folder)) from None
        broken[folder] = ("unreadable", f"cannot list the folder: {exc.strerror or exc}")
        return []


def _split_folders(path: Path, root_real: str, broken: dict[Path, tuple[str, str]]) -> list[Path]:
    """Sub-folders of ``path`` (links to folders inside the dataset included); a split-named
    entry that cannot be a folder (a dangling link, a link out of the dataset) is listed with
    its problem in ``broken``."""
    out: list[Path] = []
    for entry in _entries(path, root_real, broken):
        if entry.name.startswith(".") or entry.is_file(follow_symlinks=False):
            continue
        kind, message, st = entry_problem(entry, root_real)
        if kind:
            if canonical_split(entry.name) is not None:
                broken[Path(entry.path)] = (kind, message)
                out.append(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False) or (st is not None and stat.S_ISDIR(st.st_mode)):
            out.append(Path(entry.path))
    return out


def _size(tf: TableFile) -> int:
    try:
        return tf.path.stat().st_size if tf.problem is None else 0
    except OSError:
        return 0


def detect_tables(path: Path, cfg: Config, wanted: set[str] | None = None) -> Dataset | None:
    """Recognise the table layouts of ``dataset-layouts.md``; ``None`` if there are no tables."""
    root = path if path.is_dir() else path.parent
    root_real = os.path.realpath(root)
    broken: dict[Path, tuple[str, str]] = {}  # names that cannot be read, and why
    split_files: dict[str, list[Path]] = {}
    layout: str
    notes: list[str] = []
    single: Path | None = None
    if path.is_file():
        if table_format(path) is None and cfg.format is None:
            raise SourceError(
                f"not a table file (expected .csv, .tsv, .txt, .parquet, .jsonl, optionally .gz/.zst); "
                "pass --format to read it anyway", str(path))
        single = path
    else:
        top = _table_files(path, root_real, broken)
        named = [(canonical_split(table_format(p)[1]), p) for p in top]  # type: ignore[index]
        for split, p in named:
            if split is not None:
                split_files.setdefault(split, []).append(p)
        if split_files:
            layout = "split_files"
            others = [p.name for s, p in named if s is None]
            if others:
                notes.append(f"ignored table files that are not named after a split: {', '.join(others[:5])}")
        else:
            for sub in _split_folders(path, root_real, broken):
                split = canonical_split(sub.name)
                if split is not None:
                    shards = [] if sub in broken else _table_files(sub, root_real, broken)
                    if sub in broken:  # the split is there as a name only
                        shards = [sub]
                    if shards:
                        split_files.setdefault(split, []).extend(shards)
            if split_files:
                layout = "split_folders"
            elif len(top) == 1:
                single = top[0]
            elif len(top) > 1:
                layout = "shards"
                split_files["train"] = top
                notes.append(f"{len(top)} table files and no split names: read as shards of one split, train")
            else:
                return None
    files: dict[str, list[TableFile]] = {}
    split_column: str | None = None
    if single is not None:
        fmt = (table_format(single) or (cfg.format or "csv", single.stem))[0]
        if single in broken:
            tf = _broken(single, _rel(single, root), None, broken[single])
        else:
            tf = inspect_file(single, _rel(single, root), fmt, None, cfg)
        split_column = _find_column(tf.columns, cfg.split_column or "split")
        if cfg.split_column and split_column is None and tf.problem is None:
            raise UsageError(f"--split-column {cfg.split_column!r} not found; columns: {', '.join(tf.columns)}")
        if split_column is not None:
            layout = "split_column"
            files["*"] = [tf]
        else:
            layout = "single_file"
            if tf.problem is not None:
                tf.problem = FileProblem("train", tf.rel, tf.problem.kind, tf.problem.message)
            files["train"] = [tf]
            notes.append("one table and no split information: read as a single split, train")
    else:
        for split, paths in split_files.items():
            if wanted is not None and split not in wanted:
                continue  # never opened: fitting on train must not read val/test at all
            files[split] = [_broken(p, _rel(p, root), split, broken[p]) if p in broken
                            else inspect_file(p, _rel(p, root), table_format(p)[0], split, cfg)  # type: ignore[index]
                            for p in paths]

    all_files = [tf for tfs in files.values() for tf in tfs]
    typed = unify_schema(all_files)
    columns_by_split: dict[str, list[str]] = {}
    for split, tfs in files.items():
        cols: list[str] = []
        for tf in tfs:
            cols += [c for c in tf.columns if c not in cols]
        columns_by_split[split] = cols
    readable = [c for c in columns_by_split.values() if c]
    label = _detect_label(cfg, readable, columns_by_split)
    every = set.union(*(set(c) for c in readable)) if readable else set()
    text_col = None
    if cfg.text_column:
        text_col = _find_column(sorted(every), cfg.text_column)
        if text_col is None:
            raise UsageError(f"--text-column {cfg.text_column!r} not found; columns: {', '.join(sorted(every))}")
    else:
        for cand in TEXT_CANDIDATES:
            text_col = _find_column(sorted(every), cand)
            if text_col:
                break
    label_reason = None
    if label is None and readable:
        label, label_reason = _infer_label(files, {c for c in (text_col, split_column) if c}, cfg)
        # no label: the ``label_missing`` check warns from ``detected["label_reason"]``
    modality = cfg.modality or ("text" if text_col else "table")
    if modality not in ("table", "text"):
        raise UsageError(f"--modality {modality}: this source holds tables (use table or text)")
    shared_columns = sorted(set.intersection(*(set(c) for c in readable))) if len(readable) > 1 else None
    if shared_columns is not None and len(shared_columns) == len(every):
        shared_columns = None
    excluded = {c for c in (label, text_col, split_column) if c}
    id_columns = sorted(c for c in every if c not in excluded and ID_PATTERN.search(c.strip()))
    formats = sorted({tf.format for tf in all_files})
    detected: dict[str, object] = {
        "layout": layout,
        "format": formats[0] if len(formats) == 1 else formats,
        "label": label,
        "label_guessed": cfg.label is None and label is not None,
        **({"label_reason": label_reason} if label_reason else {}),
        "modality": modality,
        "id_columns": id_columns,
    }
    dialects = {tf.dialect.delimiter for tf in all_files if tf.dialect and not tf.dialect.binary}
    if dialects:
        detected["delimiter"] = dialects.pop() if len(dialects) == 1 else sorted(dialects)
        detected["encoding"] = sorted({tf.dialect.encoding for tf in all_files if tf.dialect})[0]
    if split_column:
        detected["split_column"] = split_column
    if text_col:
        detected["text_column"] = text_col

    def read() -> Iterator[Batch]:
        if split_column is not None:
            yield from read_split_column(files["*"][0], split_column, wanted)
            return
        for split in sorted(files, key=split_order):
            if wanted is None or split in wanted:  # many small shards: profiled in batches of many rows
                yield from coalesce(read_split_files(split, files[split]))

    if split_column is not None:
        splits = {}  # found while reading
    else:
        splits = {s: SplitInfo(s, [tf.path for tf in tfs], tfs[0].format if tfs else None) for s, tfs in files.items()
                  if wanted is None or s in wanted}
    compressed = any(tf.path.name.lower().endswith(COMPRESSIONS) for tf in all_files)
    total = None if compressed else sum(_size(tf) for tf in all_files)
    return Dataset(
        source=str(path), root=root, modality=modality, splits=splits, label_column=label, read=read,
        text_column=text_col, id_columns=id_columns, exclude_columns=[split_column] if split_column else [],
        typed_columns=typed,
        shared_columns=shared_columns,
        detected=detected, notes=notes, total_bytes=total,
    )


def unify_schema(files: list[TableFile]) -> list[str]:
    """Type a delimited column as a number only if it reads as one in every file's head.

    One schema for the whole dataset keeps the same content hashing the same in
    every split (a column that is text in test must be text in train too).
    Returns the typed columns.
    """
    from concurrent.futures import ThreadPoolExecutor

    readable = [tf for tf in files if tf.dialect is not None and tf.problem is None]
    # polars releases the GIL while inferring: the files' heads are read side by side
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(readable)))) as pool:
        # Many shards: the heads of some of them, spread over the list (the types only guide the
        # parse: a chunk that does not fit them is read as text, and hashes the same either way),
        # so that inferring the schema does not parse thousands of small shards before reading them.
        probed = readable if len(readable) <= SHARDS_PROBED else [
            readable[round(i * (len(readable) - 1) / (SHARDS_PROBED - 1))] for i in range(SHARDS_PROBED)]
        inferred = list(pool.map(lambda tf: head_schema(tf.path, tf.dialect), probed))
    heads = list(zip(probed, inferred))
    kinds: dict[str, set[pl.DataType]] = {}
    for _, schema in heads:
        for name, dtype in schema.items():
            kinds.setdefault(name, set()).add(dtype)
    unified: dict[str, pl.DataType] = {}
    for name, dtypes in kinds.items():
        if pl.String in dtypes:
            unified[name] = pl.String()
        elif pl.Float64 in dtypes:
            unified[name] = pl.Float64()
        else:
            unified[name] = pl.Int64()
    for tf in readable:
        tf.schema = {name: unified.get(name, pl.String()) for name in tf.columns}
    return sorted(n for n, dt in unified.items() if dt != pl.String)


def _infer_label(files: dict[str, list[TableFile]], excluded: set[str], cfg: Config) -> tuple[str | None, str]:
    """The label inferred from the head of the reference split's first readable file, and why."""
    from dataaudit.sources.label_inference import infer_label, read_head

    for split in sorted(files, key=split_order):
        for tf in files[split]:
            if tf.problem is None and tf.columns:
                head = read_head(tf)
                if head is None or head.width == 0:
                    return None, f"the head of {tf.rel} could not be read to infer one"
                choice = infer_label(head, excluded, cfg.sentinels)
                return choice.column, choice.reason
    return None, "no readable file to infer one from"


def _detect_label(cfg: Config, readable: list[list[str]], by_split: dict[str, list[str]]) -> str | None:
    if cfg.label:
        for cols in readable:
            found = _find_column(cols, cfg.label)
            if found:
                return found
        every = sorted({c for cols in readable for c in cols})
        if not readable:
            return cfg.label
        raise UsageError(f"--label {cfg.label!r} not found; columns: {', '.join(every)}")
    if not readable:
        return None
    for cand in LABEL_CANDIDATES:
        hits = [_find_column(cols, cand) for cols in readable]
        if all(hits):
            return hits[0]
    # No candidate in every split: take the reference split's, so that its absence from the
    # other splits is reported (schema_mismatch, as an error) instead of label checks vanishing.
    ref = next((by_split[s] for s in sorted(by_split, key=split_order) if by_split[s]), [])
    for cand in LABEL_CANDIDATES:
        col = _find_column(ref, cand)
        if col is not None:
            return col
    return None
