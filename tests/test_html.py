"""The self-contained HTML report, checked as markup and in a real headless Chromium."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw

from browser import dump_dom, screenshot
from dataaudit.profile.columns import ColumnStats
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.labels import LabelStats
from dataaudit.profile.sample import RowSample
from dataaudit.profile.split import SplitStats
from dataaudit.report.html import render_html
from dataaudit.report.model import Finding, Report, Severity

SPLITS = {"train": 600, "val": 150, "test": 150}
CLASSES = {"train": {"cat": 300, "dog": 220, "bird": 80}, "val": {"cat": 75, "dog": 55, "bird": 20},
           "test": {"cat": 110, "dog": 38, "bird": 2}}


def _split(name: str, n: int, shift: float, missing: float, seed: int) -> SplitStats:
    rng = np.random.default_rng(seed)
    s = SplitStats(name=name, rows=n)
    for col in ("age", "income", "city", "label"):
        c = ColumnStats(name=col)
        c.count = n
        c.nulls = int(n * missing) if col == "income" else 0
        s.columns[col] = c
    s.labels = LabelStats(counts=Counter(CLASSES[name]))
    frame = pl.DataFrame({
        "__row__": np.arange(n),
        "age": rng.normal(40 + shift, 8, n),
        "income": rng.lognormal(10, 0.4, n),
        "city": rng.choice(["Paris", "Lyon", "Nice"] if not shift else ["Paris", "Lille"], n),
    })  # fmt: skip
    s.sample = RowSample(k=1000)
    s.sample.update(frame)
    return s


def _images(root: Path) -> None:
    for split, color in (("train", (40, 110, 200)), ("test", (200, 90, 40))):
        for i in range(2):
            d = root / split / "cat"
            d.mkdir(parents=True, exist_ok=True)
            im = Image.new("RGB", (96, 72), color)
            ImageDraw.Draw(im).ellipse((20 + 10 * i, 10, 70, 60), fill=(250, 250, 250))
            im.save(d / f"{i:04d}.png")


def make_report(root: Path, with_stats: bool = True) -> Report:
    _images(root)
    stats = DatasetStats(
        source=str(root), modality="table",
        splits={"train": _split("train", 600, 0, 0.0, 1), "val": _split("val", 150, 0, 0.02, 2),
                "test": _split("test", 150, 9, 0.3, 3)},
        label_column="label",
    )  # fmt: skip
    findings = [
        Finding("distribution_shift", Severity.ERROR, "feature 'age' is distributed differently in test than in train",
                split="test", column="age", count=150, fraction=1.0,
                details={"test": "ks_2samp", "statistic": 0.42, "p_value": 1e-12, "threshold_warning": 0.1}),
        Finding("distribution_shift", Severity.WARNING, "feature 'city' is distributed differently in test",
                split="test", column="city", count=150, details={"test": "chi_square", "statistic": 0.5}),
        Finding("missing_values", Severity.ERROR, "column 'income' in test: 45 of 150 values missing",
                split="test", column="income", count=45, fraction=0.3,
                examples=[{"split": "test", "row": r} for r in (3, 9, 11)]),
        Finding("split_overlap", Severity.ERROR, "1 test image also occurs in train", split="test", count=1,
                examples=[{"split": "test", "path": "test/cat/0000.png",
                           "duplicate_of": {"split": "train", "path": "train/cat/0000.png"}}]),
        Finding("near_duplicates", Severity.WARNING, "1 image of train is a near copy <script>alert(1)</script>",
                split="train", count=1,
                examples=[{"split": "train", "path": "train/cat/0001.png", "hamming_distance": 4,
                           "duplicate_of": {"split": "train", "path": "train/cat/0000.png"}}]),
    ]
    return Report(
        source=str(root), modality="table", splits={k: {"rows": v} for k, v in SPLITS.items()},
        findings=findings, label_column="label", stats=stats if with_stats else None, duration_s=0.5,
        notes=["label column guessed: label"], detected={"layout": "split_files"},
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict[str, Any]]]:
    c = _Collector()
    c.feed(text)
    return c.tags


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    text = render_html(make_report(tmp_path / "data"))
    tags = _tags(text)
    assert not [t for t, a in tags if t in ("script", "link", "iframe")]
    for _, attrs in tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value:
                assert value.startswith(("data:", "#")), f"external reference {value}"
    assert "@import" not in text and "url(http" not in text


def test_the_page_holds_every_picture(tmp_path: Path) -> None:
    text = render_html(make_report(tmp_path / "data"))
    plots = Counter(a.get("data-plot") for t, a in _tags(text) if t == "figure")
    assert plots == {"class-counts": 1, "missing-matrix": 1, "shift": 2, "pairs": 2}
    images = [a["src"] for t, a in _tags(text) if t == "img"]
    assert len(images) == 4 and all(s.startswith("data:image/jpeg;base64,") for s in images)
    assert "30%" in text, "the missing share of income in test is shown"


def test_messages_are_escaped(tmp_path: Path) -> None:
    text = render_html(make_report(tmp_path / "data"))
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_without_statistics_the_page_has_no_pictures(tmp_path: Path) -> None:
    text = render_html(make_report(tmp_path / "data", with_stats=False))
    plots = [a.get("data-plot") for t, a in _tags(text) if t == "figure"]
    assert "class-counts" not in plots and "shift" not in plots and "missing-matrix" not in plots
    assert "no pictures" in text
    assert text.count('class="finding ') == 5


def test_a_clean_report_says_it_passed(tmp_path: Path) -> None:
    report = Report(source="d", modality="table", splits={"train": {"rows": 3}}, findings=[])
    text = render_html(report)
    assert 'id="verdict">PASSED<' in text and "No findings" in text


def test_accepted_findings_of_a_baseline_are_listed(tmp_path: Path) -> None:
    report = make_report(tmp_path / "data", with_stats=False)
    report.detected["baseline"] = {"path": "base.json", "new": 0, "resolved": [],
                                   "accepted": [{"check": "duplicates", "severity": "error", "split": "train",
                                                 "column": None, "message": "3 duplicated rows"}]}
    text = render_html(report)
    assert 'id="accepted"' in text and "3 duplicated rows" in text and "base.json" in text


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(make_report(tmp_path / "data")), encoding="utf-8")

    dom = dump_dom(page)
    assert re.search(r'id="verdict">\s*FAILED', dom)
    tags = _tags(dom)
    figures = Counter(a.get("data-plot") for t, a in tags if t == "figure")
    assert figures["class-counts"] == 1 and figures["shift"] == 2 and figures["missing-matrix"] == 1
    assert figures["pairs"] == 2
    assert sum(1 for t, a in tags if t == "rect" and a.get("class") == "bar") >= 9, "3 classes x 3 splits"
    assert sum(1 for t, _ in tags if t == "polygon") == 2, "train and test histograms of age"
    assert sum(1 for t, a in tags if t == "img" and str(a.get("src", "")).startswith("data:image/jpeg")) == 4

    png = screenshot(page, tmp_path / "report.png")
    with Image.open(png) as im:
        assert im.size == (1280, 2400)
        small = im.convert("RGB").resize((64, 120))
        colors = {small.getpixel((x, y)) for x in range(64) for y in range(120)}
    assert len(colors) > 50, "the screenshot shows a rendered page, not a blank one"


@pytest.mark.browser
def test_a_scanned_image_folder_renders_with_thumbnails(tmp_path: Path) -> None:
    from dataaudit.cli import main

    root = tmp_path / "images"
    _images(root)
    Image.open(root / "train" / "cat" / "0000.png").save(root / "test" / "cat" / "0009.png")
    page = tmp_path / "scan.html"
    assert main(["scan", str(root), "--format", "html", "-o", str(page), "-q", "--workers", "1"]) == 1
    dom = dump_dom(page)
    assert 'data-plot="pairs"' in dom and "data:image/jpeg;base64," in dom
    screenshot(page, tmp_path / "scan.png", height=1600)
    assert (tmp_path / "scan.png").stat().st_size > 10_000


def test_degenerate_statistics_still_render(tmp_path: Path) -> None:
    def split(name: str, values: list[float]) -> SplitStats:
        s = SplitStats(name=name, rows=len(values))
        s.labels = LabelStats(counts=None)  # a regression target: no class chart
        s.sample = RowSample(k=100)
        if values:
            s.sample.update(pl.DataFrame({"__row__": np.arange(len(values)), "x": values}))
        return s

    stats = DatasetStats(source=str(tmp_path), modality="table",
                         splits={"train": split("train", [1.0] * 30), "test": split("test", [])})
    findings = [
        Finding("distribution_shift", Severity.WARNING, "x shifted", split="test", column="x", count=1),
        Finding("distribution_shift", Severity.WARNING, "y shifted", split="train", column="y", count=1),
        Finding("near_duplicates", Severity.WARNING, "pair of missing files", split="train", count=1,
                examples=[{"split": "train", "path": "gone.png", "duplicate_of": {"split": "train", "path": "gone2.png"}}]),
    ]
    report = Report(source=str(tmp_path), modality="table", splits={"train": {"rows": 30}, "test": {"rows": 0}},
                    findings=findings, stats=stats)
    text = render_html(report)
    assert 'data-plot="class-counts"' not in text
    assert "No sampled values" in text and "could not be read" in text
    constant = DatasetStats(source="s", modality="table",
                            splits={"train": split("train", [2.0] * 30), "test": split("test", [2.0] * 25)})
    report.stats, report.findings = constant, findings[:1]
    assert text.count("<svg") == 0 and render_html(report).count('data-plot="shift"') == 1
