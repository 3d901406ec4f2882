"""The JSON report validates against the packaged schema for clean and faulty data in every table layout."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import write_table
from tabledata import clean_splits, random_split, reviews

import dataaudit

from dataaudit.report.model import SCHEMA_PATH  # noqa: E402  (the copy shipped with the package)
Splits = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def base() -> Splits:
    return clean_splits(400, seed=8)


def make_faulty(sp: Splits) -> Splits:
    """Many faults at once: leak, duplicate, missing, corrupt labels, shift, constant column."""
    sp = copy.deepcopy(sp)
    sp["test"].insert(0, dict(sp["train"][0]))
    sp["train"].append(dict(sp["train"][1]))
    sp["val"][2]["bill_depth_mm"] = None
    sp["train"][3]["species"] = "adelie "
    sp["train"][4]["species"] = "7"
    for r in sp["test"]:
        r["flipper_length_mm"] = round(r["flipper_length_mm"] + 20, 1)
    for rows in sp.values():
        for r in rows:
            r["colony"] = "Palmer"
    sp["val"][5]["species"] = "Emperor"
    return sp


def write_layout(root: Path, sp: Splits, layout: str) -> Path:
    if layout in ("csv", "tsv", "txt", "parquet", "jsonl", "csv.gz"):
        for name, rows in sp.items():
            write_table(root, f"{name}.{layout}", rows)
        return root
    if layout == "shards":
        for name, rows in sp.items():
            half = len(rows) // 2
            write_table(root, f"{name}/part-0.parquet", rows[:half])
            write_table(root, f"{name}/part-1.parquet", rows[half:])
        return root
    if layout == "split_column":
        write_table(root, "data.csv", [{**r, "split": name} for name, rows in sp.items() for r in rows])
        return root / "data.csv"
    if layout == "single_file":
        write_table(root, "data.csv", sp["train"])
        return root / "data.csv"
    raise ValueError(layout)


LAYOUTS = ["csv", "tsv", "txt", "parquet", "jsonl", "csv.gz", "shards", "split_column", "single_file"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("faulty", [False, True], ids=["clean data", "faulty data"])
def test_report_validates_for_every_layout(tmp_path: Path, base: Splits, validator: Any, layout: str,
                                           faulty: bool) -> None:
    sp = make_faulty(base) if faulty else copy.deepcopy(base)
    report = dataaudit.scan(write_layout(tmp_path, sp, layout), progress=False)
    doc = json.loads(report.to_json())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    assert doc["summary"]["passed"] is (not faulty)
    assert doc["summary"]["errors"] == sum(f["severity"] == "error" for f in doc["findings"])
    if faulty:
        checks = {f["check"] for f in doc["findings"]}
        assert {"duplicates", "label_corruption", "constant_column"} <= checks
        for f in doc["findings"]:
            for ex in f["examples"]:
                if "row" in ex:
                    assert ex["split"] in doc["splits"] and 0 <= ex["row"] < doc["splits"][ex["split"]]["rows"] + 5


def test_report_validates_for_broken_files_and_text(tmp_path: Path, validator: Any) -> None:
    sp = random_split(reviews(200, seed=4), seed=4)
    sp["test"].insert(0, {"id": 9999, "text": sp["train"][0]["text"].upper(), "label": sp["train"][0]["label"]})
    for name, rows in sp.items():
        write_table(tmp_path / "text", f"{name}.csv", rows)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "train.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "broken" / "test.csv").write_text("a,b\n1,2\n3\n4,\"5\n")
    (tmp_path / "broken" / "val.csv").write_bytes(b"")
    for path in (tmp_path / "text", tmp_path / "broken"):
        doc = json.loads(dataaudit.scan(path, progress=False, max_examples=3).to_json())
        errors = list(validator.iter_errors(doc))
        assert not errors, [e.message for e in errors[:5]]
        assert all(len(f["examples"]) <= 3 for f in doc["findings"])
    assert doc["summary"]["passed"] is False
