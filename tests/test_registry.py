"""The check registry is explicit and matches the report contract's ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dataaudit.checks.registry import ID_OWNER, all_ids, register_check

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "report-contract.md"
OWN_IDS = {"empty_split", "expectation", "serving_skew", "label_missing"}  # ids dataaudit adds beyond the contract's table


def contract_ids() -> set[str]:
    if not CONTRACT.is_file():
        pytest.skip(f"the report contract is not in this checkout ({CONTRACT})")
    rows = re.findall(r"^\| `([a-z_]+)` \|", CONTRACT.read_text(), flags=re.MULTILINE)
    return set(rows)


def test_every_contract_id_has_a_registered_check() -> None:
    assert contract_ids() <= set(all_ids())


def test_registered_ids_are_the_contract_ids_plus_documented_additions() -> None:
    assert set(all_ids()) == contract_ids() | OWN_IDS


def test_each_id_lives_in_the_module_named_after_its_family() -> None:
    families = {
        "missing_values": "missing", "schema_mismatch": "schema", "constant_column": "schema",
        "duplicates": "duplicates", "near_duplicates": "duplicates", "split_overlap": "duplicates",
        "near_split_overlap": "duplicates", "conflicting_labels": "labels", "class_imbalance": "labels",
        "label_set_mismatch": "labels", "label_shift": "labels", "label_corruption": "labels",
        "label_missing": "labels",
        "delimiter_corruption": "structure", "corrupt_file": "files", "image_properties": "images",
        "distribution_shift": "shift", "normalization_leak": "normalization",
        "unnormalized_inputs": "normalization",
    }
    for check_id, module in families.items():
        assert ID_OWNER[check_id].func.__module__ == f"dataaudit.checks.{module}", check_id


def test_a_second_registration_of_an_id_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="registered twice"):
        @register_check({"duplicates": {}})
        def another_duplicates_check(stats, ctx):  # type: ignore[no-untyped-def]
            return []
