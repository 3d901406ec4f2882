"""Image datasets: layout detection, file listing and the records profilers read.

Three layouts are recognised (``shared/dataset-layouts.md``):

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

import os
import posixpath
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataaudit.errors import SourceError
from dataaudit.sources.base import Batch, Dataset, SplitInfo, canonical_split, split_order

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


def _sniff_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return sniff_image(fh.read(16))
    except OSError:
        return None


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


def _walk(folder: Path, sizes: bool = True) -> _Folder:
    """Walk ``folder`` once (recursively, hidden names skipped, symlinked folders followed);
    ``sizes``: ``stat`` every candidate for its size (a system call per file)."""
    items: list[tuple[str, int, str]] = []
    images = tables = 0
    stack: list[tuple[str, str]] = [(str(folder), "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name[0] == "." or name in _HIDDEN_NAMES:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                continue
            if is_dir:
                stack.append((entry.path, f"{prefix}{name}/"))
                continue
            dot = name.rfind(".")  # _ext inlined: a file name holds no "/"
            ext = name[dot:].lower() if dot > 0 else ""
            if ext in IMAGE_EXTENSIONS:
                images += 1
            elif ext in NOT_IMAGE_EXTENSIONS:
                if ext in TABLE_EXTENSIONS and name not in METADATA_NAMES:
                    tables += 1
                continue
            elif _sniff_file(Path(entry.path)) is None:
                continue
            size = -1
            if sizes:
                try:
                    size = entry.stat(follow_symlinks=True).st_size
                except OSError:
                    pass
            items.append((prefix + name, size, ext))
    return _Folder(items, images, tables)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _metadata_file(folder: Path) -> Path | None:
    """``metadata.csv``/``.jsonl`` in ``folder`` when it names images (a ``file_name`` column)."""
    for name in METADATA_NAMES:
        cand = folder / name
        if cand.is_file() and _names_files(cand):
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
    items = sorted((walked or _walk(folder)).items)
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
) -> tuple[list[ImageRecord], list[int], Counter[str], str | None]:
    rows, column = _read_metadata(meta, label)
    seen: dict[str, str | None] = {}
    base = _rel(folder, root)
    prefix = f"{base}/" if base and base != "." else ""
    resolved_root = root.resolve()
    for name, value in rows:
        posix = name.replace("\\", "/")
        # a relative name is normalised as text (one resolve() per row costs syscalls)
        key = posixpath.normpath(prefix + posix) if not posixpath.isabs(posix) else ""
        if not key or key == ".." or key.startswith("../"):
            try:
                key = _rel((folder / posix).resolve(), resolved_root)
            except ValueError:
                notes.append(f"{_rel(meta, root)}: file_name {name!r} points outside the dataset; skipped")
                continue
        if key in seen:
            notes.append(f"{_rel(meta, root)}: {name!r} is listed more than once; the first entry is used")
            continue
        seen[key] = value
    on_disk = {prefix + rel: size for rel, size, _ in (walked or _walk(folder, sizes_wanted)).items}
    unlisted = on_disk.keys() - seen.keys()
    if unlisted:
        notes.append(
            f"{len(unlisted)} image file(s) in {_rel(folder, root) or '.'} are not named in "
            f"{meta.name} and were not scanned (e.g. {sorted(unlisted)[0]})"
        )
    records: list[ImageRecord] = []
    sizes: list[int] = []
    exts: Counter[str] = Counter()
    for i, key in enumerate(sorted(seen)):
        records.append(ImageRecord(i, key, None, seen[key]))
        size = on_disk.get(key)
        if size is None:  # named by the metadata but not an image candidate of the walk
            size = -1
            if sizes_wanted:
                try:
                    size = (root / key).stat().st_size
                except OSError:
                    pass
        sizes.append(size)
        exts[_ext(key) or "(none)"] += 1
    return records, sizes, exts, column


def scan_layout(root: Path, config: Config) -> ImageListing | None:
    """Recognise an image layout under ``root`` and list its images, or ``None``.

    ``config.modality`` forces (``"image"``) or rules out (anything else) image
    detection; ``config.label`` names the metadata label column. File sizes
    (``listing.sizes``, ``Dataset.total_bytes``: what a progress bar in bytes
    needs) are listed only when ``config.progress`` is on: a ``stat`` per file is
    ~40% of the listing's time.
    """
    if config.modality is not None and config.modality != "image":
        return None
    if not root.is_dir():
        return None
    forced = config.modality == "image"
    sized = bool(config.progress)
    subdirs = sorted((p for p in root.iterdir() if p.is_dir() and not _hidden(p.name)), key=lambda p: p.name)
    split_dirs: dict[str, list[Path]] = {}
    for d in subdirs:
        name = canonical_split(d.name)
        if name is not None:
            split_dirs.setdefault(name, []).append(d)
    notes: list[str] = []

    if split_dirs:
        walks = {d: _walk(d, sized) for dirs in split_dirs.values() for d in dirs}
        images = sum(w.images for w in walks.values())
        tables = sum(w.tables for w in walks.values())
        has_meta = any(_metadata_file(d) is not None for dirs in split_dirs.values() for d in dirs)
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
            meta = _metadata_file(folder)
            if meta is not None:
                recs, sizes, exts, column = _metadata_records(
                    root, folder, meta, config.label, notes, walks[folder], sized
                )
                layouts.add("imagefolder_metadata")
                label_columns.add(column)
            else:
                recs, sizes, exts = _folder_records(root, folder, labelled=True, walked=walks[folder])
                layouts.add("imagefolder")
                label_columns.add("label" if any(r.label is not None for r in recs) else None)
            listing.splits[name] = recs
            listing.sizes[name] = sizes
            listing.split_folders[name] = _rel(folder, root)
            listing.extensions.update(exts)
        listing.layout = "imagefolder_metadata" if "imagefolder_metadata" in layouts else "imagefolder"
        if len(layouts) > 1:
            notes.append("some splits have a metadata file and others class folders")
        named = sorted(c for c in label_columns if c is not None)
        listing.label_column = named[0] if named else None
        if len(named) > 1:
            notes.append(f"splits use different label columns: {', '.join(named)}; labels are compared as read")
        if listing.count == 0 and not forced:
            return None
        return listing

    meta = _metadata_file(root)
    if meta is not None:
        recs, sizes, exts, column = _metadata_records(root, root, meta, config.label, notes, None, sized)
        return ImageListing(
            root, "imagefolder_metadata", {"train": recs}, {"train": ""}, column, {"train": sizes}, exts, notes, sized
        )

    walked = _walk(root, sized)
    if walked.tables and walked.tables >= walked.images and not forced:
        return None
    loose = [rel for rel, _, _ in walked.items if "/" not in rel]
    class_dirs = {rel[: rel.index("/")] for rel, _, _ in walked.items if "/" in rel}
    if not class_dirs and not loose:
        return None
    recs, sizes, exts = _folder_records(root, root, labelled=bool(class_dirs), walked=walked)
    if loose and class_dirs:
        notes.append(f"{len(loose)} image(s) directly in the dataset folder have no class folder and no label")
    layout = "class_folders" if class_dirs else "flat"
    label_column = "label" if class_dirs else None
    return ImageListing(
        root, layout, {"train": recs}, {"train": ""}, label_column, {"train": sizes}, exts, notes, sized
    )


# -- Dataset ------------------------------------------------------------------------


def _to_dataset(listing: ImageListing, source: str | None = None) -> Dataset:
    root = listing.root

    def read() -> Iterator[Batch]:
        for name in sorted(listing.splits, key=split_order):
            recs = listing.splits[name]
            sizes = listing.sizes.get(name, [])
            folder = listing.split_folders.get(name, "")
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
    """The encoded bytes of ``record`` (from ``data``, else from ``root / path``)."""
    if record.data is not None:
        return record.data
    if record.path is None or root is None:
        raise SourceError(f"image record {record.index} has neither bytes nor a path")
    with open(Path(root) / record.path, "rb") as fh:
        return fh.read()
