"""What each check id means and what to do about a finding: ``dataaudit checks`` and ``dataaudit explain``.

One entry per contract id: a one-line summary, what a finding means, how to fix it (the first
sentence of ``fix`` is the console's hint), and a line for each parameter. Defaults come from
the registry, so they are never restated here; ``tests/test_catalog.py`` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckDoc:
    """The documentation of one check id."""

    summary: str
    meaning: str
    fix: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def hint(self) -> str:
        """The first sentence of :attr:`fix`: what the console prints under a finding."""
        head = self.fix.split(". ")[0].rstrip(".")
        return head + "."


_FRACTIONS = {
    "warning_fraction": "share of the split's items from which a finding is a warning",
    "error_fraction": "share of the split's items from which a finding is an error",
}

CATALOG: dict[str, CheckDoc] = {
    "missing_values": CheckDoc(
        "nulls, NaN, empty strings and sentinel tokens per column and split",
        "Values are absent: nulls, NaN, empty fields or sentinels such as NA, ?, -999 (the `sentinels` "
        "setting). A model either sees a default it did not learn from or drops the rows.",
        "Impute with statistics fitted on train (`dataaudit fit`), drop the column if it is mostly empty, "
        "or declare the column's real sentinel so it is counted. Fix the export if missing values "
        "appear in one split only.",
        dict(_FRACTIONS),
    ),
    "schema_mismatch": CheckDoc(
        "columns, column kinds or image modes/sizes that differ between splits or shards",
        "A split lacks a column, has an extra one, or a column is numeric in one split and text in "
        "another (often a unit or a stray word: '1450 mg/L'); for images, modes or sizes differ.",
        "Make every split come from the same export. Rename or drop the odd column, and clean the "
        "values that turned a numeric column into text (the examples name them).",
        {"image_size_tolerance": "relative difference of typical image sizes between splits that is tolerated"},
    ),
    "constant_column": CheckDoc(
        "columns with a single value in a split",
        "The column carries no information in that split (or everywhere); if it differs between "
        "splits it is often a leak of how the split was made.",
        "Drop the column from the features. If it is constant only in val/test, check how the splits "
        "were cut.",
        {"min_rows": "rows a split needs before a single-valued column is reported"},
    ),
    "empty_split": CheckDoc(
        "splits with no usable rows or images",
        "A split exists but holds nothing that could be read: the model would be evaluated on nothing.",
        "Regenerate the split, or remove the empty file so the layout says what you mean.",
    ),
    "duplicates": CheckDoc(
        "exact copies within a split",
        "The same item (row content without id columns; decoded pixels for images) occurs more than "
        "once in a split, which over-weights it in training and inflates validation scores.",
        "Deduplicate within each split before training (keep one copy per group); the examples list "
        "the rows of each group.",
        dict(_FRACTIONS),
    ),
    "split_overlap": CheckDoc(
        "val/test items whose content occurs in train",
        "Items of val or test are copies of train items (labels and id columns excluded, columns "
        "matched by name), so evaluation measures memory, not generalisation.",
        "Remove the overlapping items from val/test (or from train), then re-split by a group key "
        "(patient, user, source file) so copies land in one split.",
        {"error_fraction": "share of the split's items from which the finding is an error",
         "error_min_count": "overlapping items from which the finding is an error"},
    ),
    "near_duplicates": CheckDoc(
        "near copies within a split (normalised text; verified perceptual hashes for images)",
        "Items that are the same up to case, spacing or punctuation (text), or re-encoded, resized, "
        "brightened or slightly cropped (images).",
        "Keep one item of each group, or group them so they never straddle a split.",
        {**_FRACTIONS, "hamming_radius": "largest Hamming distance of 64-bit image hashes taken as a candidate"},
    ),
    "near_split_overlap": CheckDoc(
        "val/test items that are near copies of train items",
        "Like split_overlap, but the copies were changed a little (case, spacing, re-encoding, "
        "resizing), which hides them from exact comparison.",
        "Remove them from val/test and split by a group key, as for split_overlap.",
        {**_FRACTIONS, "hamming_radius": "largest Hamming distance of 64-bit image hashes taken as a candidate"},
    ),
    "conflicting_labels": CheckDoc(
        "the same content under different labels",
        "Identical inputs carry different labels (within a split or across splits): at least one of "
        "them is wrong, or the features cannot tell the classes apart.",
        "Review the groups in the examples and relabel them, or drop them if the label is genuinely "
        "ambiguous.",
        {"error_fraction": "share of items in conflicting groups from which the finding is an error"},
    ),
    "class_imbalance": CheckDoc(
        "skewed classes and classes with very few items",
        "The largest class outnumbers the smallest by a large ratio, or classes have too few items to "
        "learn or evaluate.",
        "Collect more data for the rare classes, use class weights or a balanced sampler, and report "
        "per-class metrics; merge or drop classes too rare to learn.",
        {"ratio_warning": "largest/smallest class ratio from which it is a warning",
         "ratio_error": "largest/smallest class ratio from which it is an error",
         "min_class_count": "fewer train items than this in a class is reported"},
    ),
    "label_set_mismatch": CheckDoc(
        "classes missing from a split, or present in val/test but never in train",
        "The model is evaluated on classes it never saw, or a split cannot measure some classes.",
        "Re-split with stratification by label, or remove the unseen classes from val/test.",
        {"min_expected": "expected count below which an absent class is only an info"},
    ),
    "label_shift": CheckDoc(
        "a label distribution that differs between train and val/test",
        "Class proportions differ more than a random split would make them (total variation with a "
        "p-value).",
        "Stratify the split by label; if the shift is real (a new period), evaluate with it in mind.",
        {"tvd_warning": "total variation distance from which it is a warning",
         "tvd_error": "total variation distance from which it is an error",
         "alpha": "p-value the shift must also beat"},
    ),
    "label_corruption": CheckDoc(
        "label typos, case/whitespace variants, numbers among class names, shifted columns",
        "Some labels are near-misses of a real class ('Adelie ' for 'Adelie', 'Gentto'), a number "
        "among class names, or another column's value shifted into the label by a broken row.",
        "Map each variant to its class (the examples give the rows); fix the broken rows that shifted "
        "a value into the label.",
        {"typo_max_ratio": "a class this much rarer than a near-identical one is taken as its typo",
         "rare_ratio": "share below which an odd label value is suspected"},
    ),
    "label_missing": CheckDoc(
        "a table whose label column could not be found or inferred",
        "No column is named like a label and none looks like one, so the label checks did not run.",
        "Name the label with `--label COL` (or `label = \"COL\"` in the configuration); "
        "`--ignore label_missing` for a table without labels.",
        {"min_columns": "tables with fewer columns are not reported"},
    ),
    "delimiter_corruption": CheckDoc(
        "malformed records in delimited text",
        "Records with the wrong number of fields, another delimiter or unbalanced quotes: a lenient "
        "parser shifts values between columns, often into the label.",
        "Fix or drop the records at the lines given, and quote fields that contain the delimiter.",
        dict(_FRACTIONS),
    ),
    "distribution_shift": CheckDoc(
        "a feature distributed differently in val/test than in train (location, spread or tails)",
        "A numeric feature's location (KS), spread (Brown-Forsythe) or tails, or a categorical "
        "feature's frequencies (total variation), differ from train by more than the threshold "
        "and beyond chance.",
        "Check how the split was made (time, source, preprocessing run separately per split); a real "
        "shift means val/test do not measure what production will see.",
        {"ks_warning": "KS statistic from which a numeric shift is a warning",
         "ks_error": "KS statistic from which it is an error",
         "tvd_warning": "total variation from which a categorical shift is a warning",
         "tvd_error": "total variation from which it is an error",
         "scale_warning": "ratio of spreads (either way) from which it is a warning",
         "scale_error": "ratio of spreads from which it is an error",
         "tail_warning": "ratio of tail shares from which heavier or lighter tails are a warning",
         "min_tail_items": "items beyond the pooled tail quantiles needed to compare tails",
         "min_distinct_for_spread": "distinct values a feature needs for spread and tail tests",
         "alpha": "p-value every shift must also beat (corrected for the number of tests)",
         "min_samples": "items a split needs before it is compared"},
    ),
    "normalization_leak": CheckDoc(
        "features scaled with statistics of all splits or of each split",
        "Standardisation or min-max scaling was fitted on more than train, so val/test leak into "
        "training (or each split was scaled on its own, hiding shifts).",
        "Fit the scaling on train only (`dataaudit fit`) and apply that same artefact to every split.",
        {"tolerance": "how close to 0/1 a split's mean/std must be to count as standardised",
         "rounding_tolerance": "tolerance for values rounded when written",
         "supplied_tolerance": "relative mismatch allowed between a supplied normalisation and train"},
    ),
    "unnormalized_inputs": CheckDoc(
        "inputs on a raw scale where normalised ones are expected",
        "Pixel values on 0..255 where the supplied normalisation expects 0..1, or similar scale errors.",
        "Apply the fitted transform (`dataaudit fit`, then its transforms) before training.",
        {"pixel_scale_max": "largest value still taken as a 0..1 scale"},
    ),
    "corrupt_file": CheckDoc(
        "empty, binary, truncated, undecodable or unreadable files",
        "A file of the dataset could not be read as what it claims to be; its items are missing from "
        "the scan and from training.",
        "Re-export or re-download the files named (a pulled DVC/git-annex file, an interrupted copy), "
        "or remove them.",
    ),
    "image_properties": CheckDoc(
        "odd sizes and aspect ratios, unexpected modes or channel counts, blank images",
        "Images far from the dataset's typical size or shape, in another colour mode, or with almost "
        "no variation in their pixels.",
        "Inspect the images named; drop blank or broken ones and convert modes consistently "
        "(`dataaudit fit` records the mode and size to use).",
        {"size_factor": "factor away from the typical size from which a size is odd",
         "size_z": "robust z-score of the aspect ratio from which it is odd",
         "uniform_share": "share of images of one mode from which others are reported",
         "min_side": "smallest side in pixels below which an image is reported",
         "min_images": "images a split needs before properties are compared",
         "blank_std": "pixel standard deviation below which an image is blank"},
    ),
    "expectation": CheckDoc(
        "failed expectations of a Great Expectations suite",
        "A rule of the suite given with `--expectations` does not hold on a split (the finding names "
        "the expectation, the rows and the values).",
        "Fix the data, or edit the suite if the rule was too strict (`meta.severity` sets what a "
        "violation costs).",
    ),
    "serving_skew": CheckDoc(
        "new data that differs from what the artefact was fitted on (`dataaudit validate`)",
        "Categories unseen at fit time, values outside the fitted range, more missing values, or "
        "images of another mode or size than train.",
        "Refit on data that represents serving, or fix the pipeline that produces the new data.",
    ),
}
"""Documentation of every registered check id."""
