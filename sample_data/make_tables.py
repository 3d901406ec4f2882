"""Generate the tabular sample datasets from the vendored real UCI data.

    python sample_data/make_tables.py

- ``tables_clean/``: the Wisconsin breast cancer data (569 rows, 30 features),
  split at random 70/15/15. A random split of clean real data: the scan passes.
- ``tables_faulty/``: the wine data (178 rows, 13 features, 3 cultivars) split
  60/20/20 with every tabular fault dataaudit checks for planted in it (listed in
  ``sample_data/README.md``).

Deterministic: the same files every run (seeded).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(path.open(newline="")))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]], raw_lines: dict[int, str] | None = None) -> None:
    """Write rows as CSV; ``raw_lines`` inserts hand-made (possibly malformed) lines before data row i."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for i, row in enumerate(rows):
        for line in (raw_lines or {}).get(i, []):  # type: ignore[union-attr]
            buf.write(line + "\n")
        w.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def split(rows: list[list[str]], fractions: tuple[float, float], seed: int) -> tuple[list, list, list]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    a = int(round(fractions[0] * len(rows)))
    b = a + int(round(fractions[1] * len(rows)))
    pick = lambda idx: [rows[i] for i in sorted(idx)]  # noqa: E731
    return pick(order[:a]), pick(order[a:b]), pick(order[b:])


def make_clean() -> None:
    header, rows = read(HERE / "breast_cancer_uci" / "breast_cancer.csv")
    train, val, test = split(rows, (0.7, 0.15), seed=7)
    out = HERE / "tables_clean"
    for name, part in (("train", train), ("val", val), ("test", test)):
        write(out / f"{name}.csv", header, part)
    (out / "pyproject.toml").write_text('[tool.dataaudit]\nlabel = "diagnosis"\n')


def make_faulty() -> None:
    header, rows = read(HERE / "wine_uci" / "wine.csv")
    rng = np.random.default_rng(11)
    train, val, test = split(rows, (0.6, 0.2), seed=3)

    # class_imbalance + label_shift: train keeps only 5 barbera; val/test keep theirs.
    barbera = [r for r in train if r[-1] == "barbera"]
    train = [r for r in train if r[-1] != "barbera"] + barbera[:5]

    # constant_column: a column with a single value in every split.
    header = header[:-1] + ["lab_batch", header[-1]]
    for part in (train, val, test):
        for r in part:
            r.insert(len(r) - 1, "B-2019")
    col = {name: i for i, name in enumerate(header)}

    # missing_values: magnesium missing in ~10% of train as NA, empty and -999.
    for i in rng.choice(len(train), size=10, replace=False):
        train[i][col["magnesium"]] = ["NA", "", "-999"][i % 3]

    # duplicates: four train rows repeated exactly.
    train += [list(train[i]) for i in (2, 9, 17, 30)]
    # conflicting_labels: a train row repeated with another cultivar.
    twin = list(train[40])
    twin[-1] = "grignolino" if twin[-1] != "grignolino" else "barolo"
    train.append(twin)
    # label_corruption: whitespace/case variant, typo, a number shifted into the label.
    train[5][-1] = " Barolo"
    train[12][-1] = "grignolinno"
    train[20][-1] = "0.57"  # a hue value: this row is shifted by one column

    # distribution_shift: colour intensity measured differently in test.
    for r in test:
        r[col["color_intensity"]] = f"{float(r[col['color_intensity']]) * 1.8 + 1.5:.2f}"
    # schema_mismatch: test's proline written with units (text, not a number).
    for r in test:
        r[col["proline"]] = f"{r[col['proline']]} mg/L"
    # label_set_mismatch: two test rows of a cultivar that train never shows.
    for r in test[:2]:
        r[-1] = "nebbiolo"
    # split_overlap: three train rows copied into test (leakage).
    test += [list(train[i]) for i in (3, 8, 33)]

    # normalization_leak: alcohol standardised with the mean/std of ALL splits (the last step,
    # so the statistics are those of the final rows).
    everything = train + val + test
    alc = np.array([float(r[col["alcohol"]]) for r in everything])
    mu, sd = alc.mean(), alc.std()
    for r in everything:
        r[col["alcohol"]] = f"{(float(r[col['alcohol']]) - mu) / sd:.6f}"

    out = HERE / "tables_faulty"
    # delimiter_corruption: hand-made malformed lines in train.csv.
    good = ",".join(train[0])
    raw = {
        15: [good.replace(",", ";")],                             # another delimiter
        25: [",".join(train[1][:6] + ["1,065"] + train[1][6:])],  # unquoted comma: one field too many
        35: [",".join(train[2][:-3])],                             # truncated row: fields missing
        45: ['0.51,"2.1,2.3,19,98,2.2,2.1,0.3,1.6,4.1,1.0,2.9,880,B-2019,barolo'],  # quote never closed
    }
    write(out / "train.csv", header, train, raw)
    write(out / "val.csv", header, val)
    write(out / "test.csv", header, test)
    (out / "pyproject.toml").write_text('[tool.dataaudit]\nlabel = "cultivar"\n')


if __name__ == "__main__":
    make_clean()
    make_faulty()
    print("wrote sample_data/tables_clean and sample_data/tables_faulty")
