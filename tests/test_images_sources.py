"""Image layout detection and listing (dataaudit.sources.images)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataaudit.config import Config
from dataaudit.errors import SourceError
from dataaudit.profile.dataset import profile_dataset
from dataaudit.sources.images import (
    ImageRecord,
    detect_images,
    list_images,
    read_image_bytes,
    sniff_image,
)
from tests.imagedata import class_folders, encode, imagefolder, textured, write


def records(root: Path, config: Config | None = None) -> dict[str, list[ImageRecord]]:
    ds = detect_images(root, config or Config())
    assert ds is not None
    out: dict[str, list[ImageRecord]] = {}
    for batch in ds.read():
        out.setdefault(batch.split, []).extend(batch.payload)
    return out


def test_imagefolder_splits_of_class_folders(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"cat": 2, "dog": 3}, "Validation": {"cat": 1}, "TEST": {"dog": 1}})
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    assert ds.modality == "image" and ds.label_column == "label"
    assert ds.detected["layout"] == "imagefolder"
    assert ds.detected["images"] == 7
    assert ds.detected["extensions"] == {".jpg": 7}
    assert ds.split_names == ["train", "val", "test"]
    assert ds.total_bytes == sum(p.stat().st_size for p in tmp_path.rglob("*.jpg"))
    recs = records(tmp_path)
    assert [(r.index, r.path, r.label) for r in recs["train"]] == [
        (0, "train/cat/cat_000.jpg", "cat"),
        (1, "train/cat/cat_001.jpg", "cat"),
        (2, "train/dog/dog_000.jpg", "dog"),
        (3, "train/dog/dog_001.jpg", "dog"),
        (4, "train/dog/dog_002.jpg", "dog"),
    ]
    assert recs["val"][0].path == "Validation/cat/cat_000.jpg"
    assert ds.class_names == ["cat", "dog"]


def test_batches_are_chunks_located_at_the_split_folder(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 300}}, size=8)
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    batches = list(ds.read())
    assert [len(b.payload) for b in batches] == [256, 44]
    assert {b.path for b in batches} == {"train"}
    assert [r.index for b in batches for r in b.payload] == list(range(300))
    assert sum(b.nbytes for b in batches) == ds.total_bytes


@pytest.mark.parametrize(
    "layout", ["split folders", "metadata"], ids=["split folders list no sizes", "a metadata file lists no sizes"]
)
def test_without_a_progress_bar_no_sizes_are_listed_and_the_profile_counts_bytes_read(
    tmp_path: Path, layout: str
) -> None:
    if layout == "split folders":
        imagefolder(tmp_path, {"train": {"a": 3, "b": 2}, "test": {"a": 2}})
    else:
        imagefolder(tmp_path, {"train": {"a": 3}})
        files = sorted(p.relative_to(tmp_path / "train").as_posix() for p in (tmp_path / "train").rglob("*.jpg"))
        (tmp_path / "train" / "metadata.csv").write_text("file_name,label\n" + "".join(f"{f},x\n" for f in files))
    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*.jpg"))
    sized = detect_images(tmp_path, Config(progress=True))
    unsized = detect_images(tmp_path, Config(progress=False))
    assert sized is not None and unsized is not None
    assert sized.total_bytes == on_disk
    assert unsized.total_bytes is None
    assert all(b.nbytes == 0 for b in unsized.read())
    assert [r for b in unsized.read() for r in b.payload] == [r for b in sized.read() for r in b.payload]
    stats = profile_dataset(unsized, Config(progress=False, workers=1))
    assert sum(s.bytes_read for s in stats.splits.values()) == on_disk


@pytest.mark.parametrize("fmt", ["csv", "jsonl"], ids=["metadata.csv names files and labels", "metadata.jsonl names files and labels"])
def test_huggingface_imagefolder_metadata(tmp_path: Path, fmt: str) -> None:
    for split in ("train", "test"):
        for i in range(3):
            write(tmp_path / split / "imgs" / f"{i}.png", encode(textured(i + (10 if split == "test" else 0)), "PNG"))
        rows = [{"file_name": f"imgs/{i}.png", "species": ["ant", "bee", "ant"][i]} for i in range(3)]
        if fmt == "csv":
            text = "file_name,species\n" + "".join(f"{r['file_name']},{r['species']}\n" for r in rows)
        else:
            text = "".join(json.dumps(r) + "\n" for r in rows)
        (tmp_path / split / f"metadata.{fmt}").write_text(text)
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    assert ds.detected["layout"] == "imagefolder_metadata"
    assert ds.label_column == "species"
    recs = records(tmp_path)
    assert [(r.path, r.label) for r in recs["test"]] == [
        ("test/imgs/0.png", "ant"), ("test/imgs/1.png", "bee"), ("test/imgs/2.png", "ant"),
    ]  # fmt: skip


def test_metadata_label_column_can_be_named(tmp_path: Path) -> None:
    write(tmp_path / "train" / "a.png", encode(textured(1), "PNG"))
    (tmp_path / "train" / "metadata.csv").write_text("file_name,label,kind\na.png,x,y\n")
    recs = records(tmp_path, Config(label="kind"))
    assert recs["train"][0].label == "y"
    with pytest.raises(SourceError, match="label column 'nope'"):
        detect_images(tmp_path, Config(label="nope"))


def test_metadata_naming_a_missing_file_lists_it_and_notes_unlisted_images(tmp_path: Path) -> None:
    write(tmp_path / "train" / "a.png", encode(textured(1), "PNG"))
    write(tmp_path / "train" / "stray.png", encode(textured(2), "PNG"))
    (tmp_path / "train" / "metadata.csv").write_text("file_name,label\na.png,x\ngone.png,y\n")
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    assert [r.path for b in ds.read() for r in b.payload] == ["train/a.png", "train/gone.png"]
    assert any("stray.png" in n for n in ds.notes)


def test_class_folders_without_splits_are_one_train_split(tmp_path: Path) -> None:
    class_folders(tmp_path, ("cat", "dog"), count=2)
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    assert ds.detected["layout"] == "class_folders"
    assert ds.split_names == ["train"]
    assert [(r.path, r.label) for r in records(tmp_path)["train"]] == [
        ("cat/0.png", "cat"), ("cat/1.png", "cat"), ("dog/0.png", "dog"), ("dog/1.png", "dog"),
    ]  # fmt: skip


def test_files_are_recognised_by_content_not_only_extension(tmp_path: Path) -> None:
    png = encode(textured(1), "PNG")
    write(tmp_path / "train" / "cat" / "good.png", png)
    write(tmp_path / "train" / "cat" / "no_extension", png)  # an image by content
    write(tmp_path / "train" / "cat" / "notes.png", b"not an image at all\n")  # listed: becomes corrupt_file
    write(tmp_path / "train" / "cat" / "README.txt", b"readme")  # not an image: ignored
    write(tmp_path / "train" / "cat" / ".DS_Store", b"\x00\x00")  # hidden: ignored
    paths = [r.path for r in records(tmp_path)["train"]]
    assert paths == ["train/cat/good.png", "train/cat/no_extension", "train/cat/notes.png"]


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"GIF89a\x01\x00", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "BMP"),
        (b"P6\n32 32\n255\n", "PPM"),
        (b"hello, world", None),
        (b"", None),
    ],
    ids=["jpeg magic", "png magic", "gif magic", "webp magic", "tiff magic", "bmp magic", "ppm magic", "text is not an image", "empty is not an image"],
)
def test_sniff_image(head: bytes, fmt: str | None) -> None:
    assert sniff_image(head) == fmt


def test_table_shards_in_split_folders_are_not_an_image_dataset(tmp_path: Path) -> None:
    write(tmp_path / "train" / "part-0.csv", b"a,b\n1,2\n")
    write(tmp_path / "test" / "part-0.csv", b"a,b\n3,4\n")
    assert detect_images(tmp_path, Config()) is None


def test_a_folder_without_images_is_not_an_image_dataset(tmp_path: Path) -> None:
    write(tmp_path / "docs" / "readme.md", b"# hi")
    assert detect_images(tmp_path, Config()) is None
    with pytest.raises(SourceError, match="no image dataset"):
        list_images(tmp_path, Config())


def test_modality_option_rules_image_detection_out(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 1}})
    assert detect_images(tmp_path, Config(modality="table")) is None
    assert detect_images(tmp_path, Config(modality="image")) is not None


def test_list_images_and_read_image_bytes_serve_the_loader(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 2, "b": 1}, "test": {"a": 1}})
    listing = list_images(tmp_path, Config())
    assert listing.classes == ["a", "b"]
    assert listing.layout == "imagefolder"
    rec = listing.splits["train"][2]
    assert rec.label == "b"
    assert read_image_bytes(rec, tmp_path) == (tmp_path / "train/b/b_000.jpg").read_bytes()
    assert read_image_bytes(ImageRecord(0, None, b"xyz", None), None) == b"xyz"


def test_non_split_folders_beside_splits_are_noted(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 1}, "extra": {"a": 1}})
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    assert ds.split_names == ["train"]
    assert any("extra" in n for n in ds.notes)


def test_a_table_shard_called_metadata_csv_is_not_image_metadata(tmp_path: Path) -> None:
    write(tmp_path / "train" / "metadata.csv", b"age,income\n31,1000\n")
    write(tmp_path / "test" / "metadata.csv", b"age,income\n45,2000\n")
    assert detect_images(tmp_path, Config()) is None
