"""Image datasets: layout detection, file listing and the records profilers read.

Three layouts are recognised (``docs/dataset-layouts.md``):

``imagefolder``
    split folders of class folders (torchvision ``ImageFolder``):
    ``ROOT/train/cat/0001.png``. The label is the first folder under the split
    folder; images directly in a split folder have no label.
``imagefolder_metadata``
    split folders holding ``metadata.csv`` or ``metadata.jsonl`` (Hugging Face
    ``imagefolder``) with a ``file_name`` column and a label column, beside the
    images they name. A ``metadata`` file directly in ``ROOT`` (no split folders)
    is one split, ``train``.
``class_folders``
    class folders with no split folders: ``ROOT/cat/1.jpg`` is one split, ``train``.

Image files are recognised by content (magic bytes) as well as by extension: a
file with an image extension is always listed, even when its content is not an
image (it then becomes a ``corrupt_file`` finding when profiled); a file with
another extension, or none, is listed when its first bytes are an image
signature. Hidden files and folders (``.``-prefixed, ``__MACOSX``) are skipped.

Items of a split are numbered ``0..n-1`` in sorted relative-path order, whatever
the layout: that number is the ``index`` of :class:`ImageRecord`, the item index
the statistics and findings use.
"""

from __future__ import annotations

import bisect
import errno
import os
import posixpath
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataaudit.errors import SourceError
from dataaudit.sources.base import Batch, Dataset, FileProblem, SplitInfo, canonical_split, split_order
from dataaudit.sources.localfs import O_READ, inside, link_problem, open_regular, regular_inside, shown, special_kind

if TYPE_CHECKING:
    from dataaudit.config import Config

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".webp",
        ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".tga", ".jp2",
    }
)  # fmt: skip
"""Extensions that make a file an image candidate without reading it."""

NOT_IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet", ".md", ".py",
        ".yaml", ".yml", ".toml", ".gz", ".zst", ".zip", ".tar", ".arrow", ".npy", ".npz",
        ".pt", ".pth", ".safetensors", ".html", ".xml", ".log",
    }
)  # fmt: skip
"""Extensions never sniffed: data and documentation files that sit beside images."""

TABLE_EXTENSIONS: frozenset[str] = frozenset(
    {".csv", ".tsv", ".parquet", ".jsonl", ".ndjson", ".arrow"}
)
"""Files that make a folder look like a table dataset rather than an image one."""

METADATA_NAMES: tuple[str, ...] = ("metadata.csv", "metadata.jsonl")
LABEL_CANDIDATES: tuple[str, ...] = ("label", "labels", "target", "class", "y", "species", "category")
BATCH_RECORDS = 256
"""Records per :class:`~dataaudit.sources.base.Batch` yielded by :meth:`Dataset.read`."""


@dataclass(frozen=True)
class ImageRecord:
    """One image item of a split.

    ``path`` is relative to the dataset root with ``/`` separators; ``data``
    holds the encoded bytes instead when they come from elsewhere (the Hub), in
    which case ``path`` may be ``None``. ``index`` numbers the items of the
    split from 0 (sorted path order for folders, stream order for the Hub).
    """

    index: int
    path: str | None
    data: bytes | None
    label: str | None


@dataclass
class ImageListing:
    """What :func:`scan_layout` found: the records of every split and how they were found."""

    root: Path
    layout: str
    splits: dict[str, list[ImageRecord]]
    split_folders: dict[str, str]
    """Split name -> folder relative to the root (``""`` for the root itself)."""
    label_column: str | None
    sizes: dict[str, list[int]] = field(default_factory=dict)
    """Split name -> file size in bytes of each record (``-1`` when missing or not
    listed: see ``sized``)."""
    extensions: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    sized: bool = True
    """Whether file sizes were listed (for a progress bar in bytes; a ``stat`` per
    file, skipped when ``config.progress`` is off)."""
    problems: dict[str, list[FileProblem]] = field(default_factory=dict)
    """Split name -> names that could not be listed (dangling links, links out of the
    dataset, FIFOs, devices, unreadable folders): reported, never opened."""

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.splits.values())

    @property
    def classes(self) -> list[str]:
        """Sorted label values over all splits."""
        return sorted({r.label for recs in self.splits.values() for r in recs if r.label is not None})

    @property
    def total_bytes(self) -> int:
        return sum(max(s, 0) for sizes in self.sizes.values() for s in sizes)


# -- content sniffing ---------------------------------------------------------------


def sniff_image(head: bytes) -> str | None:
    """The image format named by the first bytes of a file, or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head.startswith(b"BM") and len(head) >= 14:
        return "BMP"
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n":
        return "PPM"
    if head.startswith(b"\x00\x00\x01\x00") or head.startswith(b"\x00\x00\x02\x00"):
        return "ICO"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG2000"
    return None


def _sniff_file(path: str) -> str | None:
    """The image format of the file at ``path`` from its first bytes (``None``: not an image).

    Opened without blocking: a FIFO that slipped in between listing and reading
    gives nothing to read instead of waiting for a writer forever. ``OSError``
    (permission denied) is the caller's to report.
    """
    fd = os.open(path, O_READ)
    try:
        return sniff_image(os.read(fd, 16))
    finally:
        os.close(fd)


_HIDDEN_NAMES = frozenset({"__MACOSX", "__pycache__"})


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _HIDDEN_NAMES


def _ext(name: str) -> str:
    """Lower-case extension of a file name (``""`` for none), cheaper than ``os.path.splitext``."""
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 and "/" not in name[dot:] else ""


@dataclass
class _Folder:
    """One walk of a folder tree: its image candidates and what the layout decision needs."""

    items: list[tuple[str, int, str]]
    """``(path relative to the folder with '/' separators, size in bytes or -1 (also
    when sizes were not asked for), lower-case extension)`` of every image
    candidate, unsorted."""
    images: int
    """Files with an image extension."""
    tables: int
    """Table files (other than image metadata files)."""
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """``(path relative to the folder, kind, message)`` of names that could not be
    listed: dangling links, links out of the root, loops, FIFOs, devices,
    folders or files that cannot be read."""
    notes: list[str] = field(default_factory=list)


def _walk(folder: Path, sizes: bool = True, root: Path | None = None) -> _Folder:
    """Walk ``folder`` once: recursively, hidden names skipped, nothing outside ``root`` followed.

    ``sizes``: ``stat`` every candidate for its size (a system call per file).

    Symbolic links (see :mod:`dataaudit.sources.localfs`): a link is followed only when
    its target lies inside the dataset ``root`` (default: ``folder``); every real
    folder and file is walked or listed once. Real folders are walked first, then
    links to folders whose target is neither inside a walked folder nor holds one
    (a link back up the tree is a loop and is not followed), then links to files
    not already listed (a link to a listed file is not counted twice). A link in one
    split to a file of another split is listed in both: that is a real overlap.
    Names that cannot be listed (dangling links, links leaving the root, loops,
    FIFOs, devices, sockets, folders or files that cannot be read) are returned
    as ``problems``; nothing is opened that is not a regular file.
    """
    items: list[tuple[str, int, str]] = []
    problems: list[tuple[str, str, str]] = []
    notes: list[str] = []
    images = tables = 0
    root_real = os.path.realpath(root if root is not None else folder)
    folder_real = os.path.realpath(folder)
    base = _rel(folder, root) if root is not None else ""
    walked_set: set[str] = {folder_real}  # real paths of walked folders
    dir_real: dict[str, str] = {}  # prefix of a walked folder -> its real path
    stack: list[tuple[str, str, str]] = [(str(folder), "", folder_real)]
    links: list[tuple[str, str]] = []
    file_links: list[tuple[str, str, os.stat_result]] = []

    def candidate(path: str, rel: str, name: str, st: os.stat_result | None) -> None:
        nonlocal images
        dot = name.rfind(".")  # _ext inlined: a file name holds no "/"
        ext = name[dot:].lower() if dot > 0 else ""
        if ext in IMAGE_EXTENSIONS:
            images += 1
        elif ext in NOT_IMAGE_EXTENSIONS:
            return
        else:
            try:
                if _sniff_file(path) is None:
                    return
            except OSError as exc:
                problems.append((rel, "unreadable", f"cannot read the file: {exc.strerror or exc}"))
                return
        size = -1
        if sizes:
            try:
                size = (st or os.stat(path)).st_size
            except OSError:
                pass
        items.append((rel, size, ext))

    def walk_folders() -> None:
        nonlocal tables
        while stack:
            current, prefix, real = stack.pop()
            dir_real[prefix] = real
            try:
                entries = list(os.scandir(current))
            except OSError as exc:
                problems.append((prefix.rstrip("/") or ".", "unreadable",
                                 f"cannot list the folder: {exc.strerror or exc}"))
                continue
            for entry in entries:
                name = entry.name
                if name[0] == "." or name in _HIDDEN_NAMES:
                    continue
                rel = prefix + name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        sub = f"{real}/{name}"
                        walked_set.add(sub)
                        stack.append((entry.path, rel + "/", sub))
                        continue
                    if not _considered(name):
                        # data and documentation files beside the images are never opened,
                        # whatever they are (links, pipes): only table names count, for the layout
                        if _ext(name) in TABLE_EXTENSIONS:
                            tables += 1
                        continue
                    if entry.is_symlink():
                        links.append((entry.path, rel))
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        kind = special_kind(entry.stat(follow_symlinks=False).st_mode)
                        problems.append((rel, "not_regular", f"{kind}, not a regular file; not opened"))
                        continue
                    st = entry.stat(follow_symlinks=False) if sizes else None
                except OSError as exc:
                    problems.append((rel, "unreadable", f"cannot stat: {exc.strerror or exc}"))
                    continue
                candidate(entry.path, rel, name, st)

    walk_folders()
    while links:  # links to folders are followed after the real folders are walked
        walked = sorted(walked_set)  # to find a walked folder under a link's target
        for link, rel in sorted(links, key=lambda x: x[1]):
            kind, message, target, st = link_problem(link, root_real)
            if kind or target is None or st is None:
                problems.append((rel, kind, message))
            elif stat.S_ISREG(st.st_mode):
                file_links.append((rel, target, st))
            elif not stat.S_ISDIR(st.st_mode):
                problems.append((rel, "not_regular", f"symbolic link to {special_kind(st.st_mode)}; not opened"))
            else:
                covered = any(a in walked_set for a in _ancestors(target))
                at = bisect.bisect_left(walked, target + "/")
                holds = at < len(walked) and walked[at].startswith(target + "/")
                if covered or holds:
                    loop = holds or inside(os.path.realpath(os.path.dirname(link)), target)
                    why = "a folder that holds it (a loop)" if loop else "a folder already scanned"
                    notes.append(f"{_join(base, rel)}: symbolic link to {why} ({shown(target, root_real)}); "
                                 "not followed")
                    continue
                bisect.insort(walked, target)
                walked_set.add(target)
                stack.append((target, rel + "/", target))
        links = []
        walk_folders()
    if file_links:
        # links to files last, once every folder that will be walked has been: a link to a
        # file already listed (or to the same file as an earlier link) is not counted again
        listed = {dir_real[rel[: rel.rfind("/") + 1]] + "/" + rel[rel.rfind("/") + 1:] for rel, _, _ in items}
        repeated = 0
        for rel, target, st in sorted(file_links, key=lambda x: x[0]):
            if target in listed:
                repeated += 1
                continue
            listed.add(target)
            candidate(target, rel, rel[rel.rfind("/") + 1:], st)
        if repeated:
            notes.append(f"{_join(base, '.')}: {repeated} symbolic link(s) to files already listed were not "
                         "counted again")
    return _Folder(items, images, tables, problems, notes)


def _considered(name: str) -> bool:
    """Whether the walk looks at a name at all: image metadata files and anything that
    is not a known data or documentation file (``NOT_IMAGE_EXTENSIONS``)."""
    dot = name.rfind(".")
    return dot <= 0 or name[dot:].lower() not in NOT_IMAGE_EXTENSIONS or name in METADATA_NAMES


def _ancestors(path: str) -> Iterator[str]:
    """``path`` and every folder above it (``/a/b`` -> ``/a/b``, ``/a``, ``/``)."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _metadata_file(folder: Path, root_real: str) -> Path | None:
    """``metadata.csv``/``.jsonl`` in ``folder`` when it names images (a ``file_name`` column).

    Only a regular file inside the dataset counts (a link out of it is reported by the walk).
    """
    for name in METADATA_NAMES:
        cand = folder / name
        if regular_inside(str(cand), root_real) == "" and _names_files(cand):
            return cand
    return None


def _names_files(path: Path) -> bool:
    """Whether the first record of a metadata file has a ``file_name`` field (a table
    shard that happens to be called ``metadata.csv`` does not)."""
    import csv
    import json

    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            first = fh.readline()
    except OSError:
        return False
    if path.suffix == ".csv":
        try:
            header = next(csv.reader([first]))
        except (csv.Error, StopIteration):
            return False
        return "file_name" in (h.strip().lstrip("\ufeff") for h in header)
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and "file_name" in record


# -- layouts ------------------------------------------------------------------------


def _folder_records(
    root: Path, folder: Path, labelled: bool, walked: _Folder | None = None
) -> tuple[list[ImageRecord], list[int], Counter[str]]:
    base = _rel(folder, root)
    prefix = f"{base}/" if base and base != "." else ""
    # relative paths are unique within a walk and share the prefix: sorting by them is
    # sorting by the path from the root
    items = sorted((walked or _walk(folder, root=root)).items)
    if labelled:
        labels = [rel[: rel.find("/")] if "/" in rel else None for rel, _, _ in items]
    else:
        labels = [None] * len(items)
    records = [ImageRecord(i, prefix + item[0], None, label) for i, (item, label) in enumerate(zip(items, labels))]
    sizes = [size for _, size, _ in items]
    exts: Counter[str] = Counter(ext or "(none)" for _, _, ext in items)
    return records, sizes, exts


def _read_metadata(path: Path, label: str | None) -> tuple[list[tuple[str, str | None]], str | None]:
    """``[(file_name, label), ...]`` and the label column used, from a metadata file."""
    import polars as pl

    try:
        if path.suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
        else:
            frame = pl.read_ndjson(path)
    except Exception as exc:  # polars raises several unrelated types for bad files
        raise SourceError(f"cannot read image metadata: {exc}", str(path)) from None
    if "file_name" not in frame.columns:
        raise SourceError("image metadata needs a 'file_name' column", str(path))
    column: str | None = None
    if label is not None:
        if label not in frame.columns:
            raise SourceError(
                f"label column {label!r} not in metadata columns {', '.join(frame.columns)}", str(path)
            )
        column = label
    else:
        lower = {c.lower(): c for c in frame.columns if c != "file_name"}
        column = next((lower[c] for c in LABEL_CANDIDATES if c in lower), None)
    names = [str(v) for v in frame["file_name"].cast(pl.String).to_list()]
    if column is None:
        return [(n, None) for n in names], None
    labels = frame[column].cast(pl.String).to_list()
    return [(n, None if v is None else str(v)) for n, v in zip(names, labels)], column


def _metadata_records(
    root: Path,
    folder: Path,
    meta: Path,
    label: str | None,
    notes: list[str],
    walked: _Folder | None = None,
    sizes_wanted: bool = True,
    problems: list[tuple[str, str, str]] | None = None,
) -> tuple[list[ImageRecord], list[int], Counter[str], str | None]:
    """Records of the images ``meta`` names (in sorted path order). A name that cannot be
    listed (outside the dataset, a link out of it, a FIFO or device) is not a record: it
    goes to ``problems`` as ``(path from the root, kind, message)``."""
    rows, column = _read_metadata(meta, label)
    seen: dict[str, str | None] = {}
    base = _rel(folder, root)
    prefix = f"{base}/" if base and base != "." else ""
    root_real = os.path.realpath(root)
    walk = walked or _walk(folder, sizes_wanted, root)
    bad = {prefix + rel: (kind, message) for rel, kind, message in walk.problems}
    found: list[tuple[str, str, str]] = []
    meta_rel = _rel(meta, root)
    for name, value in rows:
        posix = name.replace("\\", "/")
        # a relative name is normalised as text (one resolve() per row costs syscalls)
        key = posixpath.normpath(prefix + posix) if not posixpath.isabs(posix) else ""
        if not key or key == ".." or key.startswith("../"):
            real = os.path.realpath(os.path.join(folder, posix))
            if not inside(real, root_real):
                found.append((meta_rel, "outside", f"file_name {name!r} points outside the dataset; not read"))
                continue
            key = os.path.relpath(real, root_real).replace(os.sep, "/")
        if key in seen:
            notes.append(f"{meta_rel}: {name!r} is listed more than once; the first entry is used")
            continue
        seen[key] = value
    on_disk = {prefix + rel: size for rel, size, _ in walk.items}
    unlisted = on_disk.keys() - seen.keys()
    if unlisted:
        notes.append(
            f"{len(unlisted)} image file(s) in {_rel(folder, root) or '.'} are not named in "
            f"{meta.name} and were not scanned (e.g. {sorted(unlisted)[0]})"
        )
    records: list[ImageRecord] = []
    sizes: list[int] = []
    exts: Counter[str] = Counter()
    for key in sorted(seen):
        size = on_disk.get(key)
        if size is None:  # named by the metadata but not an image candidate of the walk
            if key in bad:
                continue  # the walk reports it
            kind = regular_inside(str(root / key), root_real)
            if kind not in ("", "missing"):  # a missing file stays a record: reading it is the finding
                found.append((key, kind, f"{meta.name} names it, but it is {_KIND_TEXT.get(kind, kind)}; not read"))
                continue
            size = -1
            if sizes_wanted and not kind:
                try:
                    size = (root / key).stat().st_size
                except OSError:
                    pass
        records.append(ImageRecord(len(records), key, None, seen[key]))
        sizes.append(size)
        exts[_ext(key) or "(none)"] += 1
    if problems is not None:
        problems.extend(found)
    return records, sizes, exts, column


_KIND_TEXT = {
    "outside": "outside the dataset", "not_regular": "not a regular file", "link_loop": "a symbolic link loop",
    "unreadable": "unreadable",
}  # fmt: skip


def scan_layout(root: Path, config: Config) -> ImageListing | None:
    """Recognise an image layout under ``root`` and list its images, or ``None``.

    ``config.modality`` forces (``"image"``) or rules out (anything else) image
    detection; ``config.label`` names the metadata label column. File sizes
    (``listing.sizes``, ``Dataset.total_bytes``: what a progress bar in bytes
    needs) are listed only when ``config.progress`` is on: a ``stat`` per file is
    ~40% of the listing's time. Names that cannot be listed (see :func:`_walk`)
    are ``listing.problems`` of their split. Raises :class:`SourceError` when
    ``root`` itself cannot be listed.
    """
    if config.modality is not None and config.modality != "image":
        return None
    if not root.is_dir():
        return None
    forced = config.modality == "image"
    sized = bool(config.progress)
    root_real = os.path.realpath(root)
    try:
        top = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise SourceError(f"cannot list the dataset folder: {exc.strerror or exc}", str(root)) from None
    subdirs: list[Path] = []
    broken: dict[str, list[tuple[str, str, str]]] = {}  # split -> problems of split folders that cannot be walked
    for entry in top:
        if _hidden(entry.name):
            continue
        split = canonical_split(entry.name)
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.is_symlink():
                kind, message, _, st = link_problem(entry.path, root_real)
                if not kind and st is not None and stat.S_ISDIR(st.st_mode):
                    subdirs.append(Path(entry.path))
                elif split is not None and kind:
                    broken.setdefault(split, []).append((entry.name, kind, message))
            elif split is not None and not entry.is_file(follow_symlinks=False):
                kind = special_kind(entry.stat(follow_symlinks=False).st_mode)
                broken.setdefault(split, []).append((entry.name, "not_regular", f"{kind}, not a split folder"))
        except OSError as exc:
            if split is not None:
                broken.setdefault(split, []).append((entry.name, "unreadable", f"cannot stat: {exc.strerror or exc}"))
    split_dirs: dict[str, list[Path]] = {}
    for d in subdirs:
        name = canonical_split(d.name)
        if name is not None:
            split_dirs.setdefault(name, []).append(d)
    notes: list[str] = []

    if split_dirs:
        walks = {d: _walk(d, sized, root) for dirs in split_dirs.values() for d in dirs}
        images = sum(w.images for w in walks.values())
        tables = sum(w.tables for w in walks.values())
        has_meta = any(_metadata_file(d, root_real) is not None for dirs in split_dirs.values() for d in dirs)
        if not has_meta and not forced and tables and tables >= images:
            return None  # table shards in split folders
        others = [d.name for d in subdirs if canonical_split(d.name) is None]
        if others:
            notes.append(f"folders that are not splits were not scanned: {', '.join(others)}")
        listing = ImageListing(root, "imagefolder", {}, {}, None, notes=notes, sized=sized)
        layouts: set[str] = set()
        label_columns: set[str | None] = set()
        for name in sorted(split_dirs, key=split_order):
            dirs = split_dirs[name]
            if len(dirs) > 1:
                notes.append(
                    f"folders {', '.join(d.name for d in dirs)} all mean split {name!r}; only {dirs[0].name} was scanned"
                )
            folder = dirs[0]
            walk = walks[folder]
            base = _rel(folder, root)
            problems = [(_join(base, rel), kind, message) for rel, kind, message in walk.problems]
            notes.extend(walk.notes)
            meta = _metadata_file(folder, root_real)
            if meta is not None:
                recs, sizes, exts, column = _metadata_records(
                    root, folder, meta, config.label, notes, walk, sized, problems
                )
                layouts.add("imagefolder_metadata")
                label_columns.add(column)
            else:
                recs, sizes, exts = _folder_records(root, folder, labelled=True, walked=walk)
                layouts.add("imagefolder")
                label_columns.add("label" if any(r.label is not None for r in recs) else None)
            listing.splits[name] = recs
            listing.sizes[name] = sizes
            listing.split_folders[name] = base
            listing.extensions.update(exts)
            listing.problems[name] = _file_problems(name, problems)
        for name, probs in broken.items():
            if name in listing.splits:
                listing.problems[name] += _file_problems(name, probs)
            else:  # a split folder that is a name only (a dangling link): the split is there, and empty
                listing.splits[name], listing.sizes[name], listing.split_folders[name] = [], [], probs[0][0]
                listing.problems[name] = _file_problems(name, probs)
        listing.layout = "imagefolder_metadata" if "imagefolder_metadata" in layouts else "imagefolder"
        if len(layouts) > 1:
            notes.append("some splits have a metadata file and others class folders")
        named = sorted(c for c in label_columns if c is not None)
        listing.label_column = named[0] if named else None
        if len(named) > 1:
            notes.append(f"splits use different label columns: {', '.join(named)}; labels are compared as read")
        if listing.count == 0 and not forced and not any(listing.problems.values()):
            return None
        return listing

    meta = _metadata_file(root, root_real)
    if meta is not None:
        walk = _walk(root, sized, root)
        problems = list(walk.problems)
        recs, sizes, exts, column = _metadata_records(root, root, meta, config.label, notes, walk, sized, problems)
        notes.extend(walk.notes)
        return ImageListing(
            root, "imagefolder_metadata", {"train": recs}, {"train": ""}, column, {"train": sizes}, exts, notes, sized,
            problems={"train": _file_problems("train", problems)},
        )

    walked = _walk(root, sized, root)
    if walked.tables and walked.tables >= walked.images and not forced:
        return None
    loose = [rel for rel, _, _ in walked.items if "/" not in rel]
    class_dirs = {rel[: rel.index("/")] for rel, _, _ in walked.items if "/" in rel}
    if not class_dirs and not loose and not any(_ext(path) in IMAGE_EXTENSIONS for path, _, _ in walked.problems):
        return None
    recs, sizes, exts = _folder_records(root, root, labelled=bool(class_dirs), walked=walked)
    if loose and class_dirs:
        notes.append(f"{len(loose)} image(s) directly in the dataset folder have no class folder and no label")
    notes.extend(walked.notes)
    layout = "class_folders" if class_dirs else "flat"
    label_column = "label" if class_dirs else None
    return ImageListing(
        root, layout, {"train": recs}, {"train": ""}, label_column, {"train": sizes}, exts, notes, sized,
        problems={"train": _file_problems("train", walked.problems)},
    )


def _join(base: str, rel: str) -> str:
    """``base/rel`` as a path from the root (``rel`` ``"."`` is the folder itself)."""
    if rel == ".":
        return base or "."
    return f"{base}/{rel}" if base and base != "." else rel


def _file_problems(split: str, problems: list[tuple[str, str, str]]) -> list[FileProblem]:
    return [FileProblem(split, path, kind, message, counted=False) for path, kind, message in sorted(problems)]


# -- Dataset ------------------------------------------------------------------------


def _to_dataset(listing: ImageListing, source: str | None = None) -> Dataset:
    root = listing.root

    def read() -> Iterator[Batch]:
        for name in sorted(listing.splits, key=split_order):
            recs = listing.splits[name]
            sizes = listing.sizes.get(name, [])
            folder = listing.split_folders.get(name, "")
            problems = listing.problems.get(name)
            if problems:
                yield Batch(split=name, path=folder, files=list(problems), payload=[])
            for start in range(0, len(recs), BATCH_RECORDS):
                chunk = recs[start : start + BATCH_RECORDS]
                nbytes = sum(max(s, 0) for s in sizes[start : start + BATCH_RECORDS]) if listing.sized else 0
                yield Batch(split=name, path=folder, payload=chunk, nbytes=nbytes)

    detected: dict[str, Any] = {
        "layout": listing.layout,
        "modality": "image",
        "format": "image",
        "images": listing.count,
        "extensions": dict(sorted(listing.extensions.items())),
        "label": listing.label_column,
        "splits": {n: listing.split_folders[n] or "." for n in sorted(listing.splits, key=split_order)},
    }
    # the folder of each split stands for its files (listing every path again as a
    # Path would double the listing time of a large dataset)
    splits = {
        name: SplitInfo(name=name, files=[root / listing.split_folders.get(name, "")], format="image")
        for name in listing.splits
    }
    return Dataset(
        source=source if source is not None else str(root),
        root=root,
        modality="image",
        splits=splits,
        label_column=listing.label_column,
        read=read,
        detected=detected,
        notes=list(listing.notes),
        total_bytes=listing.total_bytes if listing.sized else None,
        class_names=listing.classes or None,
    )


def detect_images(root: Path, config: Config) -> Dataset | None:
    """The image dataset under ``root`` as a :class:`Dataset`, or ``None`` if it is not one.

    ``read()`` yields, split by split (train, val, test, then others), batches of
    at most :data:`BATCH_RECORDS` :class:`ImageRecord` in ``Batch.payload``;
    ``Batch.path`` is the split folder relative to the root.
    """
    listing = scan_layout(Path(root), config)
    if listing is None:
        return None
    return _to_dataset(listing)


def list_images(root: Path, config: Config) -> ImageListing:
    """Like :func:`scan_layout` but raise :class:`SourceError` when ``root`` holds no image dataset.

    For the loader and ``fit``: ``listing.splits[name]`` are the records of a
    split, ``listing.classes`` the sorted class names, :func:`read_image_bytes`
    reads one record.
    """
    root = Path(root)
    if not root.exists():
        raise SourceError("no such file or folder", str(root))
    listing = scan_layout(root, config)
    if listing is None:
        raise SourceError(
            "no image dataset found: expected split folders of class folders, split folders "
            "with metadata.csv/.jsonl, or class folders of images",
            str(root),
        )
    return listing


def read_image_bytes(record: ImageRecord, root: Path | None) -> bytes:
    """The encoded bytes of ``record`` (from ``data``, else from ``root / path``).

    Only a regular file is read (opened without blocking, checked before reading): a
    FIFO or device put in place after the listing raises :class:`SourceError`.
    """
    if record.data is not None:
        return record.data
    if record.path is None or root is None:
        raise SourceError(f"image record {record.index} has neither bytes nor a path")
    try:
        with open_regular(Path(root) / record.path) as fh:
            return fh.read()
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise SourceError(str(exc.strerror), record.path) from None
        raise
