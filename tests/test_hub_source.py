"""``open_hub`` against a loopback Hub: batches, rows, labels, images, auth header, partial reads, errors."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import polars as pl
import pytest

pytest.importorskip("datasets")

try:
    from tests.fake_hub import FakeHub, dataset_card, forget_filesystems, parquet_bytes, point_libraries_at
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from fake_hub import FakeHub, dataset_card, forget_filesystems, parquet_bytes, point_libraries_at

from dataaudit.config import Config
from dataaudit.errors import HubError, SourceError, UsageError
from dataaudit.sources import hub as hub_source
from dataaudit.sources.base import ROW
from dataaudit.sources.hub import is_hub_folder, open_hub, parse_spec
from dataaudit.sources.network import NetworkPolicy

ALICE = "hf_AliceReadsEverything0123456789ab"
BOB = "hf_BobReadsOnlyPublicData0123456789cd"
UNKNOWN = "hf_ThisTokenWasRevokedLastWeek01234567"

LABEL_FEATURES = """\
  - name: id
    dtype: int64
  - name: x
    dtype: float64
  - name: colour
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': cat
          '1': dog
          '2': bird
"""
SPLITS_CONFIG = """\
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
"""


def _rows(start: int, n: int) -> dict[str, list[Any]]:
    return {
        "id": list(range(start, start + n)),
        "x": [float(i % 7) for i in range(start, start + n)],
        "colour": ["red" if i % 2 else "blue" for i in range(start, start + n)],
        "label": [i % 3 for i in range(start, start + n)],
    }


def tiny_files() -> dict[str, bytes]:
    """train: two shards of 40 rows; validation: one shard of 20 rows; a card with a ClassLabel."""
    return {
        "README.md": dataset_card(LABEL_FEATURES, SPLITS_CONFIG),
        "data/train-00000-of-00002.parquet": parquet_bytes(_rows(0, 40)),
        "data/train-00001-of-00002.parquet": parquet_bytes(_rows(40, 40)),
        "data/validation-00000-of-00001.parquet": parquet_bytes(_rows(1000, 20)),
    }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with FakeHub() as fake:
        fake.add_user(ALICE, "alice")
        fake.add_user(BOB, "bob")
        fake.add_dataset("alice/tiny", tiny_files())
        point_libraries_at(monkeypatch, fake.url, tmp_path / "hf_home")
        monkeypatch.setattr(hub_source, "POLICY", NetworkPolicy(first_delay=0.01, factor=2.0, max_delay=0.1))
        yield fake
        forget_filesystems()


def read_all(spec: str, **options: Any) -> tuple[Any, dict[str, pl.DataFrame]]:
    dataset = open_hub(spec, Config(**options))
    frames: dict[str, list[pl.DataFrame]] = {}
    for batch in dataset.batches():
        assert batch.frame is not None
        frames.setdefault(batch.split, []).append(batch.frame)
    return dataset, {split: pl.concat(parts) for split, parts in frames.items()}


# --------------------------------------------------------------------------- streaming tables
def test_streams_every_split_with_rows_in_stream_order_and_class_names(hub: FakeHub) -> None:
    dataset, frames = read_all("hf://alice/tiny", token=ALICE)

    assert dataset.modality == "table"
    assert list(dataset.splits) == ["train", "val"]
    assert dataset.detected["splits_as_found"] == {"train": "train", "val": "validation"}
    assert dataset.label_column == "label"
    assert dataset.class_names == ["cat", "dog", "bird"]
    assert dataset.id_columns == ["id"]
    assert frames["train"][ROW].to_list() == list(range(80))
    assert frames["train"]["id"].to_list() == list(range(80))
    assert frames["val"][ROW].to_list() == list(range(20))
    assert frames["train"]["label"].to_list()[:4] == ["cat", "dog", "bird", "cat"]
    assert dataset.detected["commit"] == hub.repos["alice/tiny"].sha("main")
    assert not dataset.partial
    assert hub.unhandled() == []


@pytest.mark.parametrize(
    "source",
    ["--token", "HF_TOKEN", "the stored login"],
    ids=["the token from --token is sent", "the token from HF_TOKEN is sent", "the stored token is sent"],
)
def test_every_request_carries_the_resolved_token(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str
) -> None:
    hub.repos["alice/tiny"].private = True
    hub.repos["alice/tiny"].members = {"alice"}
    explicit = None
    if source == "--token":
        explicit = ALICE
        monkeypatch.setenv("HF_TOKEN", BOB)  # --token wins over HF_TOKEN
    elif source == "HF_TOKEN":
        monkeypatch.setenv("HF_TOKEN", ALICE)
    else:
        (tmp_path / "hf_home").mkdir(exist_ok=True)
        (tmp_path / "hf_home" / "token").write_text(ALICE)

    _, frames = read_all("hf://alice/tiny", token=explicit)

    assert frames["train"].height == 80
    hub_requests = [r for r in hub.log() if r.path.startswith(("/api/datasets", "/datasets"))]
    assert hub_requests
    assert {r.headers.get("authorization") for r in hub_requests} == {f"Bearer {ALICE}"}


def test_max_rows_stops_each_split_early_and_reads_less_than_the_files(hub: FakeHub) -> None:
    total = sum(len(v) for k, v in hub.repos["alice/tiny"].revisions["main"].items() if k.endswith(".parquet"))

    dataset, frames = read_all("hf://alice/tiny", token=ALICE, max_rows=5)

    assert frames["train"][ROW].to_list() == [0, 1, 2, 3, 4]
    assert frames["val"].height == 5
    assert dataset.partial is True
    assert any("partial scan" in n and "first 5 rows" in n for n in dataset.notes)
    served = hub.bytes_served(".parquet")
    assert 0 < served < total
    second_shard = [r for r in hub.log() if r.path.endswith("train-00001-of-00002.parquet") and r.method == "GET"]
    assert second_shard == []


def test_max_rows_above_the_split_sizes_is_not_partial(hub: FakeHub) -> None:
    hub.add_dataset(
        "alice/sized",
        {
            "README.md": dataset_card(
                LABEL_FEATURES
                + "  splits:\n  - name: train\n    num_examples: 80\n  - name: validation\n    num_examples: 20\n",
                SPLITS_CONFIG,
            ),
            **{k: v for k, v in tiny_files().items() if k != "README.md"},
        },
    )
    dataset, frames = read_all("hf://alice/sized", token=ALICE, max_rows=500)

    assert frames["train"].height == 80
    assert dataset.partial is False
    assert not any("partial scan" in n for n in dataset.notes)


def test_split_option_reads_one_split_and_accepts_the_canonical_name(hub: FakeHub) -> None:
    dataset, frames = read_all("hf://alice/tiny", token=ALICE, split="val")

    assert list(frames) == ["val"]
    assert list(dataset.splits) == ["val"]
    requested = [r.path for r in hub.log() if r.method == "GET" and r.path.endswith(".parquet")]
    assert requested and all("validation" in p for p in requested)


def test_unknown_split_is_a_usage_error_listing_the_splits(hub: FakeHub) -> None:
    with pytest.raises(UsageError, match=r"no split 'dev2'; splits: train, validation"):
        open_hub("hf://alice/tiny", Config(token=ALICE, split="dev2"))


def test_revision_in_the_url_reads_that_revision(hub: FakeHub) -> None:
    files = tiny_files()
    old = {**files, "data/train-00000-of-00002.parquet": parquet_bytes(_rows(500, 3))}
    hub.add_dataset("alice/versioned", files, revisions={"v1": old})

    dataset, frames = read_all("hf://alice/versioned@v1", token=ALICE)

    assert frames["train"]["id"].to_list()[:3] == [500, 501, 502]
    assert frames["train"].height == 43
    assert dataset.detected["revision"] == "v1"
    assert any("/resolve/v1/" in r.path or "/revision/v1" in r.path for r in hub.log())


def test_conflicting_revisions_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="disagree"):
        open_hub("hf://alice/tiny@v1", Config(revision="v2"))


@pytest.mark.parametrize(
    "spec",
    ["hf://tiny", "hf://a/b/c", "hf://", "hf://alice/ti ny"],
    ids=["a name without namespace", "a sub-folder path", "nothing at all", "a space in the name"],
)
def test_malformed_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match="NAMESPACE/NAME"):
        parse_spec(spec)


def test_parse_spec_accepts_datasets_prefix_and_revision() -> None:
    assert parse_spec("hf://datasets/alice/tiny@refs/convert/parquet") == ("alice/tiny", "refs/convert/parquet")
    assert parse_spec("hf://alice/tiny") == ("alice/tiny", None)


def test_several_configs_need_a_config_name(hub: FakeHub) -> None:
    configs = """\
- config_name: small
  data_files:
  - split: train
    path: small/train-*
- config_name: large
  data_files:
  - split: train
    path: large/train-*
"""
    hub.add_dataset(
        "alice/multi",
        {
            "README.md": dataset_card("", configs),
            "small/train-00000-of-00001.parquet": parquet_bytes(_rows(0, 4)),
            "large/train-00000-of-00001.parquet": parquet_bytes(_rows(0, 12)),
        },
    )
    with pytest.raises(UsageError, match=r"several configs \(small, large\): pick one with --config NAME"):
        open_hub("hf://alice/multi", Config(token=ALICE))

    dataset, frames = read_all("hf://alice/multi", token=ALICE, config_name="large")
    assert frames["train"].height == 12
    assert dataset.detected["config_name"] == "large"

    with pytest.raises(UsageError, match="no config named 'huge'"):
        open_hub("hf://alice/multi", Config(token=ALICE, config_name="huge"))


def test_nested_features_are_flattened_and_noted(hub: FakeHub) -> None:
    hub.add_dataset(
        "alice/nested",
        {
            "data/train-00000-of-00001.parquet": parquet_bytes(
                {
                    "meta": [{"source": "web", "score": 0.5}, {"source": "book", "score": 0.7}],
                    "tokens": [["a", "b"], ["c"]],
                    "blob": [b"\x00\x01", b"\x00\x01"],
                    "label": ["x", "y"],
                }
            )
        },
    )
    dataset, frames = read_all("hf://alice/nested", token=ALICE)

    train = frames["train"]
    assert set(train.columns) == {"meta.source", "meta.score", "tokens", "blob", "label", ROW}
    assert train["meta.source"].to_list() == ["web", "book"]
    assert train["tokens"].to_list() == ['["a","b"]', '["c"]']
    assert train["blob"].n_unique() == 1 and train["blob"].dtype == pl.String
    notes = " ".join(dataset.notes)
    assert "'meta' is a struct" in notes and "'tokens' holds lists" in notes and "'blob' holds binary" in notes
    assert dataset.label_column == "label" and dataset.class_names is None


def test_classlabel_minus_one_is_a_missing_label_and_unknown_codes_stay_visible(hub: FakeHub) -> None:
    card = dataset_card("  - name: label\n    dtype:\n      class_label:\n        names:\n          '0': neg\n          '1': pos\n")
    hub.add_dataset(
        "alice/codes",
        {"README.md": card, "data/train-00000-of-00001.parquet": parquet_bytes({"label": [0, 1, -1, 7]})},
    )
    _, frames = read_all("hf://alice/codes", token=ALICE)

    assert frames["train"]["label"].to_list() == ["neg", "pos", None, "7"]


def test_text_dataset_is_recognised(hub: FakeHub) -> None:
    hub.add_dataset(
        "alice/reviews",
        {
            "data/train-00000-of-00001.parquet": parquet_bytes(
                {"text": ["great film", "dull plot"], "label": ["pos", "neg"]}
            )
        },
    )
    dataset, _ = read_all("hf://alice/reviews", token=ALICE)

    assert dataset.modality == "text"
    assert dataset.text_column == "text"


# --------------------------------------------------------------------------- images
def _png(colour: tuple[int, int, int], size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


IMAGE_FEATURES = """\
  - name: image
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': red
          '1': green
"""


def test_image_features_become_image_records_with_bytes_and_label_names(hub: FakeHub) -> None:
    red, green = _png((255, 0, 0)), _png((0, 255, 0))
    images = [{"bytes": red, "path": "r.png"}, {"bytes": green, "path": "g.png"}, {"bytes": red, "path": None}]
    hub.add_dataset(
        "alice/pictures",
        {
            "README.md": dataset_card(IMAGE_FEATURES),
            "data/train-00000-of-00001.parquet": parquet_bytes({"image": images, "label": [0, 1, 0]}),
        },
    )
    dataset = open_hub("hf://alice/pictures", Config(token=ALICE))
    batches = list(dataset.batches())

    assert dataset.modality == "image"
    assert dataset.class_names == ["red", "green"]
    assert dataset.label_column == "label"
    records = [r for b in batches for r in b.payload]
    assert [r.index for r in records] == [0, 1, 2]
    assert [r.label for r in records] == ["red", "green", "red"]
    assert [r.data for r in records] == [red, green, red]
    assert all(b.frame is None for b in batches)


# --------------------------------------------------------------------------- local folders
def _save_to_disk(path: Path, with_dict: bool) -> None:
    import datasets

    features = datasets.Features(
        {"x": datasets.Value("int64"), "label": datasets.ClassLabel(names=["ham", "spam"])}
    )
    train = datasets.Dataset.from_dict({"x": [1, 2, 3, 4], "label": [0, 1, 1, 0]}, features=features)
    if with_dict:
        valid = datasets.Dataset.from_dict({"x": [9, 8], "label": [1, 1]}, features=features)
        datasets.DatasetDict({"train": train, "validation": valid}).save_to_disk(str(path))
    else:
        train.save_to_disk(str(path))


@pytest.mark.parametrize("with_dict", [True, False], ids=["a saved DatasetDict", "a saved single Dataset"])
def test_save_to_disk_folders_are_read_with_their_splits_and_labels(
    hub: FakeHub, tmp_path: Path, with_dict: bool
) -> None:
    folder = tmp_path / "saved"
    _save_to_disk(folder, with_dict)

    assert is_hub_folder(folder)
    dataset, frames = read_all(str(folder))

    assert dataset.detected["layout"] == "save_to_disk"
    assert list(dataset.splits) == (["train", "val"] if with_dict else ["train"])
    assert frames["train"]["label"].to_list() == ["ham", "spam", "spam", "ham"]
    assert frames["train"][ROW].to_list() == [0, 1, 2, 3]
    assert dataset.class_names == ["ham", "spam"]
    assert dataset.total_bytes and dataset.total_bytes > 0
    if with_dict:
        assert frames["val"]["x"].to_list() == [9, 8]
    assert hub.log() == []  # a local folder never talks to the Hub


def test_local_hub_folder_is_read_like_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    for name, data in tiny_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    assert is_hub_folder(folder)
    dataset, frames = read_all(str(folder))
    _, remote = read_all("hf://alice/tiny", token=ALICE)

    assert dataset.detected["layout"] == "hub_folder"
    assert dataset.class_names == ["cat", "dog", "bird"]
    for split in ("train", "val"):
        assert frames[split].equals(remote[split])
    assert dataset.splits["val"].name == "val"
    batches = list(open_hub(str(folder), Config()).batches())
    assert {b.path for b in batches if b.split == "val"} == {"data/validation-00000-of-00001.parquet"}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"data/train-00000-of-00001.parquet": b"x"}, True),
        ({"README.md": b"---\nconfigs:\n- config_name: default\n---\n"}, True),
        ({"dataset_dict.json": b"{}"}, True),
        ({"state.json": b"{}", "dataset_info.json": b"{}"}, True),
        ({"train.csv": b"a\n1\n", "test.csv": b"a\n2\n"}, False),
        ({"train/part-0.parquet": b"x"}, False),
        ({"README.md": b"# just a readme\nconfigs: not yaml front matter\n"}, False),
    ],
    ids=[
        "hub shards under data are a hub folder",
        "a card declaring configs is a hub folder",
        "a saved DatasetDict is a hub folder",
        "a saved Dataset is a hub folder",
        "plain split files are left to the table reader",
        "split folders are left to the table reader",
        "a readme without a yaml header is not a hub folder",
    ],
)
def test_is_hub_folder(tmp_path: Path, files: dict[str, bytes], expected: bool) -> None:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert is_hub_folder(tmp_path) is expected


def test_unreadable_save_to_disk_folder_is_a_source_error(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / "dataset_dict.json").write_text('{"splits": ["train"]}')
    with pytest.raises(SourceError, match="save_to_disk"):
        open_hub(str(tmp_path), Config())


# --------------------------------------------------------------------------- access errors
@pytest.mark.parametrize(
    ("repo", "token", "pattern"),
    [
        ("alice/nope", None, r"dataset alice/nope not found on the Hub: check the name; if it is private, log in with `dataaudit login`"),
        ("alice/nope", BOB, r"dataset alice/nope not found, or it is private and the account of the token from --token cannot read it"),
        ("alice/secret", None, r"if it is private, log in with `dataaudit login`"),
        ("alice/secret", BOB, r"it is private and the account of the token from --token cannot read it"),
        ("alice/gated", None, r"alice/gated is a gated dataset: accept its terms at http://127\.0\.0\.1:\d+/datasets/alice/gated while logged in, then log in with `dataaudit login`"),
        ("alice/gated", BOB, r"gated dataset and the account of the token from --token has no access yet: accept its terms at http://127\.0\.0\.1:\d+/datasets/alice/gated"),
        ("alice/tiny", UNKNOWN, r"the Hub rejected the token from --token \(401 Unauthorized\): it is invalid, expired or revoked"),
    ],
    ids=[
        "an unknown dataset without a token says to check the name or log in",
        "an unknown dataset with a token says the name is wrong or access is missing",
        "a private dataset without a token says how to log in",
        "a private dataset with another account's token says access is missing",
        "a gated dataset without a token says to accept the terms and log in",
        "a gated dataset whose terms were not accepted says to accept them",
        "a revoked token is rejected clearly",
    ],
)
def test_access_failures_are_clear_hub_errors(
    hub: FakeHub, repo: str, token: str | None, pattern: str
) -> None:
    hub.add_dataset("alice/secret", tiny_files(), private=True, members={"alice"})
    hub.add_dataset("alice/gated", tiny_files(), gated=True, members={"alice"})

    with pytest.raises(HubError, match=pattern) as info:
        dataset = open_hub(f"hf://{repo}", Config(token=token))
        list(dataset.batches())  # a gated repo may only fail when its files are read

    assert info.value.exit_code == 2
    assert "hf_" not in str(info.value).replace("hf_***", "")
    if token:
        assert token not in str(info.value)


def test_members_read_private_and_gated_datasets(hub: FakeHub) -> None:
    hub.add_dataset("alice/secret", tiny_files(), private=True, members={"alice"})
    hub.add_dataset("alice/gated", tiny_files(), gated=True, members={"alice"})
    for repo in ("alice/secret", "alice/gated"):
        _, frames = read_all(f"hf://{repo}", token=ALICE)
        assert frames["train"].height == 80


def test_unknown_revision_is_a_clear_error(hub: FakeHub) -> None:
    with pytest.raises(HubError, match=r"revision 'v9' not found in alice/tiny"):
        open_hub("hf://alice/tiny@v9", Config(token=ALICE))


# --------------------------------------------------------------------------- lost connections
@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the backoff sleeps (ours and huggingface_hub's) instead of waiting them out."""
    import time

    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: recorded.append(float(seconds)))
    return recorded


def test_a_dropped_connection_while_opening_is_retried_with_backoff(
    hub: FakeHub, sleeps: list[float], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_source, "POLICY", NetworkPolicy(first_delay=0.5, factor=2.0, max_delay=8.0))
    hub.drop_connections(2, "/datasets/alice/tiny/resolve/main/README.md")

    with caplog.at_level(logging.INFO, logger="dataaudit"):
        _, frames = read_all("hf://alice/tiny", token=ALICE)

    assert frames["train"].height == 80
    assert sleeps[:2] == [0.5, 1.0]
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert len(retries) == 2
    assert retries[0].startswith("retry 1 of 5 in 0.5 s: HEAD /datasets/alice/tiny/resolve/main/README.md: ")


def test_a_connection_that_stays_lost_fails_after_a_bounded_number_of_attempts(
    hub: FakeHub, sleeps: list[float]
) -> None:
    hub.drop_connections(1000, "/datasets/alice/tiny/resolve/main/README.md")

    with pytest.raises(
        HubError, match=r"the Hub at http://127\.0\.0\.1:\d+ kept failing: .* \(gave up after 5 retries in \d+ s\)"
    ):
        open_hub("hf://alice/tiny", Config(token=ALICE))

    assert len(sleeps) == 5
    assert sleeps == sorted(sleeps) and sleeps[0] < sleeps[-1]
    readme_tries = [r for r in hub.log() if r.path.endswith("README.md")]
    assert len(readme_tries) == 6


def test_a_connection_lost_mid_stream_resumes_where_it_stopped(hub: FakeHub, sleeps: list[float]) -> None:
    sha = hub.repos["alice/tiny"].sha("main")
    second = f"/datasets/alice/tiny/resolve/{sha}/data/train-00001-of-00002.parquet"
    hub.reset_mid_stream(3, second, after_bytes=300)

    dataset, frames = read_all("hf://alice/tiny", token=ALICE)

    assert frames["train"]["id"].to_list() == list(range(80))
    assert frames["train"][ROW].to_list() == list(range(80))
    assert not dataset.partial
    assert len(sleeps) == 3
    first_shard_reads = [
        r for r in hub.log() if r.method == "GET" and r.path.endswith("train-00000-of-00002.parquet")
    ]
    assert len(first_shard_reads) == 1  # resumed, not restarted


def test_offline_mode_is_explained(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        open_hub("hf://alice/tiny", Config(token=ALICE))


def test_an_image_folder_repo_on_the_hub_streams_images_labelled_by_folder(hub: FakeHub) -> None:
    red, green, blue = _png((255, 0, 0)), _png((0, 255, 0)), _png((0, 0, 255))
    hub.add_dataset(
        "alice/folders",
        {"train/cat/1.png": red, "train/dog/2.png": green, "test/cat/3.png": blue},
    )
    dataset = open_hub("hf://alice/folders", Config(token=ALICE))
    records = {b.split: b.payload for b in dataset.batches()}

    assert dataset.modality == "image"
    assert dataset.class_names == ["cat", "dog"]
    assert [(r.label, r.data) for r in records["train"]] == [("cat", red), ("dog", green)]
    assert [(r.index, r.label, r.path) for r in records["test"]] == [(0, "cat", None)]


def test_images_stored_as_local_paths_keep_their_paths_relative_to_the_folder(hub: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    (folder / "pictures").mkdir(parents=True)
    (folder / "pictures" / "a.png").write_bytes(_png((255, 0, 0)))
    (folder / "README.md").write_bytes(dataset_card(IMAGE_FEATURES))
    (folder / "data").mkdir()
    (folder / "data" / "train-00000-of-00001.parquet").write_bytes(
        parquet_bytes({"image": [{"bytes": None, "path": str(folder / "pictures" / "a.png")}], "label": [0]})
    )

    dataset = open_hub(str(folder), Config())
    (record,) = [r for b in dataset.batches() for r in b.payload]

    assert dataset.modality == "image"
    assert record.label == "red"
    assert (record.data, record.path) == (None, "pictures/a.png")


def test_a_hub_that_answers_503_for_a_while_is_waited_out(hub: FakeHub, sleeps: list[float]) -> None:
    hub.fail_requests(3, status=503, path_prefix="/datasets/alice/tiny/resolve/main/README.md")

    _, frames = read_all("hf://alice/tiny", token=ALICE)

    assert frames["train"].height == 80
    assert sleeps  # backed off before trying again


def test_a_hub_that_keeps_answering_503_fails_clearly(hub: FakeHub, sleeps: list[float]) -> None:
    hub.fail_requests(10_000, status=503, path_prefix="/datasets/alice/tiny/resolve/main/README.md")

    with pytest.raises(HubError, match=r"kept failing: .*503 Service Unavailable \(gave up after 5 retries in \d+ s\)"):
        open_hub("hf://alice/tiny", Config(token=ALICE))


def test_an_image_dataset_without_labels_still_streams_its_images(hub: FakeHub) -> None:
    pictures = [{"bytes": _png((i * 40, 0, 0)), "path": None} for i in range(3)]
    hub.add_dataset(
        "alice/unlabelled",
        {
            "README.md": dataset_card("  - name: image\n    dtype: image\n"),
            "data/train-00000-of-00001.parquet": parquet_bytes({"image": pictures}),
        },
    )
    dataset = open_hub("hf://alice/unlabelled", Config(token=ALICE))
    records = [r for b in dataset.batches() for r in b.payload]

    assert dataset.label_column is None
    assert [(r.index, r.label) for r in records] == [(0, None), (1, None), (2, None)]
    assert any("no label column" in n for n in dataset.notes)


def test_restricting_the_splits_streams_only_those(hub: FakeHub) -> None:
    from dataaudit.sources import open_source

    dataset = open_source("hf://alice/tiny", Config(token=ALICE), splits=["train"])
    batches = list(dataset.batches())

    assert {b.split for b in batches} == {"train"}
    assert not [r for r in hub.log() if "validation" in r.path and r.method == "GET"]
