"""Realistic tables for the table tests, each variant with one planted defect.

:func:`penguins` draws a Palmer-penguins-like table from class-conditional
distributions (the published per-species means and spreads), so clean data looks
like real data: correlated measurements, unbalanced-but-sane classes, a few
islands per species. The ``plant_*`` helpers each change one thing and return what
they changed, so a test can assert exactly where the finding must point.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Row = dict[str, Any]

# species: (share, islands with weights, bill_length (mean, sd), bill_depth, flipper, mass)
SPECIES: dict[str, dict[str, Any]] = {
    "Adelie": {"share": 0.44, "islands": {"Torgersen": 0.3, "Biscoe": 0.3, "Dream": 0.4},
               "bill_length_mm": (38.8, 2.7), "bill_depth_mm": (18.3, 1.2),
               "flipper_length_mm": (190.0, 6.5), "body_mass_g": (3700.0, 460.0)},
    "Gentoo": {"share": 0.36, "islands": {"Biscoe": 1.0},
               "bill_length_mm": (47.5, 3.1), "bill_depth_mm": (15.0, 1.0),
               "flipper_length_mm": (217.0, 6.5), "body_mass_g": (5076.0, 504.0)},
    "Chinstrap": {"share": 0.20, "islands": {"Dream": 1.0},
                  "bill_length_mm": (48.8, 3.3), "bill_depth_mm": (18.4, 1.1),
                  "flipper_length_mm": (196.0, 7.1), "body_mass_g": (3733.0, 384.0)},
}
FEATURES = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
COLUMNS = ("species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex")


def penguins(n: int, seed: int = 0, *, shift: dict[str, float] | None = None) -> list[Row]:
    """``n`` penguin rows; ``shift`` adds a constant (in units) to numeric features (covariate shift)."""
    rng = np.random.default_rng(seed)
    names = list(SPECIES)
    species = rng.choice(names, size=n, p=[SPECIES[s]["share"] for s in names])
    rows: list[Row] = []
    for s in species:
        spec = SPECIES[str(s)]
        islands = list(spec["islands"])
        island = str(rng.choice(islands, p=list(spec["islands"].values())))
        sex = "male" if rng.random() < 0.5 else "female"
        size = rng.normal()  # one latent body size drives all measurements (they correlate, as in life)
        bump = 0.5 if sex == "male" else -0.5
        row: Row = {"species": str(s), "island": island}
        for f in FEATURES:
            mean, sd = spec[f]
            value = mean + sd * (0.6 * size + 0.3 * bump + 0.7 * rng.normal())
            if shift and f in shift:
                value += shift[f]
            row[f] = round(float(value), 1) if f != "body_mass_g" else int(round(value / 25.0) * 25)
        row["sex"] = sex
        rows.append(row)
    return rows


def random_split(rows: Sequence[Row], seed: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
                 ) -> dict[str, list[Row]]:
    """Shuffle and cut ``rows`` into train/val/test the way a careful engineer would."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    n_train = int(len(rows) * fractions[0])
    n_val = int(len(rows) * fractions[1])
    parts = {"train": idx[:n_train], "val": idx[n_train:n_train + n_val], "test": idx[n_train + n_val:]}
    return {k: [dict(rows[i]) for i in v] for k, v in parts.items()}


def dedupe(rows: Sequence[Row], key: Sequence[str] = COLUMNS) -> list[Row]:
    """Drop exact repeats (real tables are cleaned before tests assert silence)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in rows:
        k = tuple(r.get(c) for c in key)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def clean_splits(n: int = 1200, seed: int = 0) -> dict[str, list[Row]]:
    """A clean, randomly split penguin dataset with no repeats within or across splits."""
    rows = dedupe(penguins(n, seed))
    feats = [c for c in COLUMNS if c != "species"]
    rows = dedupe(rows, feats)  # same measurements under two species would be a real conflict
    return random_split(rows, seed)


@dataclass
class Planted:
    """Where a planted defect is: the split, the data-row indices and the column."""

    split: str
    rows: list[int]
    column: str | None = None
    value: Any = None


def standardise(splits: dict[str, list[Row]], columns: Sequence[str], using: str) -> None:
    """Standardise ``columns`` in place with statistics of ``using``: ``train``, ``all`` or ``each``."""
    for c in columns:
        if using == "each":
            groups = [[r for r in rows] for rows in splits.values()]
            for rows in groups:
                x = np.array([r[c] for r in rows], dtype=float)
                m, s = x.mean(), x.std()
                for r, v in zip(rows, x):
                    r[c] = float((v - m) / s)
            continue
        base = splits["train"] if using == "train" else [r for rows in splits.values() for r in rows]
        x = np.array([r[c] for r in base], dtype=float)
        m, s = float(x.mean()), float(x.std())
        for rows in splits.values():
            for r in rows:
                r[c] = float((float(r[c]) - m) / s)


def minmax(splits: dict[str, list[Row]], columns: Sequence[str], using: str) -> None:
    """Min-max scale ``columns`` in place with ``train``, ``all`` or ``each`` split's min and max."""
    for c in columns:
        if using == "each":
            for rows in splits.values():
                x = np.array([r[c] for r in rows], dtype=float)
                lo, hi = x.min(), x.max()
                for r, v in zip(rows, x):
                    r[c] = float((v - lo) / (hi - lo))
            continue
        base = splits["train"] if using == "train" else [r for rows in splits.values() for r in rows]
        x = np.array([r[c] for r in base], dtype=float)
        lo, hi = float(x.min()), float(x.max())
        for rows in splits.values():
            for r in rows:
                r[c] = float((float(r[c]) - lo) / (hi - lo))


REVIEW_WORDS = {
    "pos": ["great", "loved", "wonderful", "excellent", "superb", "delightful", "fun", "moving", "brilliant"],
    "neg": ["awful", "boring", "dull", "terrible", "weak", "clumsy", "tedious", "bland", "poor"],
}
FILLER = ["the", "plot", "acting", "film", "story", "was", "really", "quite", "and", "cast", "ending", "music",
          "direction", "script", "pace", "scenes", "characters", "dialogue"]


def reviews(n: int, seed: int = 0) -> list[Row]:
    """A text-classification table (``text``, ``label``) of distinct short reviews."""
    rng = random.Random(seed)
    out: list[Row] = []
    seen: set[str] = set()
    while len(out) < n:
        label = "pos" if rng.random() < 0.5 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(8, 16))]
        for _ in range(2):
            words.insert(rng.randrange(len(words)), rng.choice(REVIEW_WORDS[label]))
        text = " ".join(words).capitalize() + "."
        key = " ".join(text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        out.append({"id": len(out), "text": text, "label": label})
    return out
