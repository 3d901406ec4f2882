"""``duplicates``, ``near_duplicates``, ``split_overlap`` and ``near_split_overlap``.

All four read the content hashes every profiler keeps (rows and images alike);
near copies use the normalised-text hash (text) or the perceptual hash (images).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.sample import splitmix64
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity


def groups(keys: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items sharing a key: ``(order, group_start, group_size)``.

    ``order`` lists the positions of the items whose key repeats, sorted by key
    then index; each group starts at ``group_start`` within ``order``. Finding
    the repeated keys is a hash pass (polars), so only the (usually few)
    repeated items are sorted.
    """
    e = np.zeros(0, dtype=np.int64)
    if len(keys) < 2:
        return e, e, e
    repeated = np.flatnonzero(pl.Series(keys, dtype=pl.UInt64).is_duplicated().to_numpy())
    if len(repeated) == 0:
        return e, e, e
    order = repeated[np.lexsort((index[repeated], keys[repeated]))]
    k = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
    return order, starts, sizes


def lookup(ref_keys: np.ndarray, ref_index: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query key: is it among ``ref_keys``, and the smallest ref index holding it.

    The hash table is built over the distinct query keys (usually the smaller split) and
    the reference is streamed through it (a semi-join), so comparing val/test with a
    large train costs memory in proportion to val/test.
    """
    if len(ref_keys) == 0 or len(query) == 0:
        return np.zeros(len(query), dtype=bool), np.zeros(len(query), dtype=np.int64)
    wanted = pl.DataFrame({"k": pl.Series(query, dtype=pl.UInt64)}).unique()
    first = (pl.DataFrame({"k": pl.Series(ref_keys, dtype=pl.UInt64), "i": pl.Series(ref_index, dtype=pl.Int64)})
             .join(wanted, on="k", how="semi").group_by("k").agg(pl.col("i").min()))
    found = (pl.DataFrame({"k": pl.Series(query, dtype=pl.UInt64)})
             .join(first, on="k", how="left", maintain_order="left").get_column("i"))
    return found.is_not_null().to_numpy(), found.fill_null(0).to_numpy()


def _keys(split: SplitStats, which: str) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, index)`` of a split: its ``content``, ``raw`` text or ``norm``alised text hashes."""
    idx, content, _, norm = split.hashes.arrays()
    keys = {"content": content, "raw": split.hashes.raw_text(), "norm": norm}[which]
    if keys is None:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return keys, idx


def _severity(frac: float, p: dict[str, Any]) -> Severity:
    if frac >= p["error_fraction"]:
        return Severity.ERROR
    if frac >= p["warning_fraction"]:
        return Severity.WARNING
    return Severity.INFO


def _noun(split: SplitStats) -> str:
    return "images" if split.kind == "image" else "rows"


@register_check({"duplicates": {"warning_fraction": 0.01, "error_fraction": 0.1}})
def duplicates(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Items repeated within one split (same content and same label)."""
    p = ctx.params("duplicates")
    for split in stats.ordered:
        idx, content, label, _ = split.hashes.arrays()
        if len(idx) < 2:
            continue
        key = content ^ splitmix64(label)
        order, starts, sizes = groups(key, idx)
        if len(starts) == 0:
            continue
        examples: list[dict[str, Any]] = []
        for s, n in zip(starts, sizes):
            first = int(idx[order[s]])
            for t in range(s + 1, s + n):
                if len(examples) < ctx.example_cap:
                    examples.append({**split.item(int(idx[order[t]])), "duplicate_of": split.item(first)})
        count = int(sizes.sum() - len(sizes))
        frac = count / max(split.rows, 1)
        yield Finding(
            check="duplicates", severity=_severity(frac, p), split=split.name, count=count, fraction=frac,
            message=f"{count} {_noun(split)} of {split.name} repeat another item of {split.name} exactly "
                    f"({len(starts)} groups, {frac:.1%})",
            examples=examples,
            details={"groups": int(len(starts)), "largest_group": int(sizes.max()),
                     "warning_fraction": p["warning_fraction"], "error_fraction": p["error_fraction"],
                     "compared": "content and label" + ("" if split.kind == "image" else
                                                        "; id columns excluded: " + ", ".join(stats.id_columns)
                                                        if stats.id_columns else "")},
        )


def _overlap_pairs(stats: DatasetStats) -> Iterator[tuple[SplitStats, SplitStats, bool]]:
    """(earlier, later, later-is-compared-with-reference) pairs of splits."""
    ordered = [s for s in stats.ordered if len(s.hashes)]
    ref = stats.reference
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            yield earlier, later, earlier is ref


@register_check({
    "split_overlap": {"error_fraction": 0.0, "error_min_count": 1},
})
def split_overlap(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Items of one split whose exact content (label excluded) occurs in an earlier split."""
    p = ctx.params("split_overlap")
    for earlier, later, vs_ref in _overlap_pairs(stats):
        l_idx, l_content, _, _ = later.hashes.arrays()
        hit, where = lookup(*_keys(earlier, "content"), l_content)
        count = int(hit.sum())
        if count == 0:
            continue
        frac = count / max(later.rows, 1)
        leak = vs_ref and count >= p["error_min_count"] and frac > p["error_fraction"]
        order = np.argsort(l_idx[hit], kind="stable")
        q_idx, r_idx = l_idx[hit][order], where[hit][order]
        examples = [{**later.item(int(a)), "duplicate_of": earlier.item(int(b))}
                    for a, b in zip(q_idx[: ctx.example_cap], r_idx[: ctx.example_cap])]
        yield Finding(
            check="split_overlap", severity=Severity.ERROR if leak else Severity.WARNING, split=later.name,
            count=count, fraction=frac,
            message=f"{count} {later.name} {_noun(later)} also occur in {earlier.name} "
                    f"(exact content match, {frac:.1%} of {later.name})",
            examples=examples,
            details={"other_split": earlier.name, "compared": "content, label excluded",
                     "id_columns_excluded": stats.id_columns},
        )


def _text_near(split: SplitStats) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(index, raw text hash, normalised text hash)`` for text splits."""
    idx, _, _, norm = split.hashes.arrays()
    raw = split.hashes.raw_text()
    if norm is None or raw is None or len(norm) != len(idx):
        return None
    return idx, raw, norm


def _near_in_groups(idx: np.ndarray, raw: np.ndarray, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items whose normalised text equals an earlier item's while the raw text differs.

    Vectorised: returns ``(item, first item of its group)`` arrays.
    """
    order, starts, sizes = groups(norm, idx)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    member = np.repeat(np.arange(len(starts)), sizes)
    pos = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, sizes)]) if len(starts) < 1000 else \
        (np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)))
    items = order[pos]
    firsts = order[starts[member]]
    differs = (raw[items] != raw[firsts]) & (items != firsts)
    return idx[items[differs]], idx[firsts[differs]]


def _phash(split: SplitStats) -> tuple[np.ndarray, np.ndarray] | None:
    ph = split.extra.get("phash")
    pi = split.extra.get("phash_index")
    if ph is None or pi is None or len(ph) == 0:
        return None
    return np.asarray(ph, dtype=np.uint64), np.asarray(pi, dtype=np.int64)


def _content_of(split: SplitStats, items: np.ndarray) -> np.ndarray:
    """Content hash of each item index (0 for items that have none, e.g. undecodable)."""
    idx, content, _, _ = split.hashes.arrays()
    if len(idx) == 0:
        return np.zeros(len(items), dtype=np.uint64)
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    pos = np.clip(np.searchsorted(sorted_idx, items), 0, len(idx) - 1)
    return np.where(sorted_idx[pos] == items, content[order][pos], np.uint64(0))


@register_check({
    "near_duplicates": {"warning_fraction": 0.01, "error_fraction": 0.25, "hamming_radius": 8},
})
def near_duplicates(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Near copies within a split: normalised text (case, Unicode, whitespace) or perceptual hash."""
    p = ctx.params("near_duplicates")
    for split in stats.ordered:
        pairs: list[tuple[int, int, int | None]] = []
        extra_count = 0
        text = _text_near(split)
        if text is not None:
            items, firsts = _near_in_groups(*text)
            pairs.extend((int(a), int(b), None) for a, b in zip(items[: 10 * ctx.example_cap].tolist(),
                                                                 firsts[: 10 * ctx.example_cap].tolist()))
            extra_count = max(0, len(items) - 10 * ctx.example_cap)
        ph = _phash(split)
        if ph is not None:
            from dataaudit.profile.hamming import near_pairs

            hashes, items = ph
            found = near_pairs(hashes, None, int(p["hamming_radius"]))
            if len(found):
                a, b = items[found[:, 0]], items[found[:, 1]]
                same = _content_of(split, a) == _content_of(split, b)
                for x, y, d in zip(a[~same], b[~same], found[~same, 2]):
                    pairs.append((int(max(x, y)), int(min(x, y)), int(d)))
        if not pairs:
            continue
        seen: dict[int, tuple[int, int | None]] = {}
        for item, of, dist in sorted(pairs):
            if item not in seen:
                seen[item] = (of, dist)
        count = len(seen) + extra_count
        frac = count / max(split.rows, 1)
        examples = []
        for item, (of, dist) in sorted(seen.items())[: ctx.example_cap]:
            ex = {**split.item(item), "duplicate_of": split.item(of)}
            if dist is not None:
                ex["hamming_distance"] = dist
            examples.append(ex)
        how = "perceptual hash within Hamming distance " + str(p["hamming_radius"]) if ph is not None else \
            "normalised text (case, Unicode form, whitespace)"
        yield Finding(
            check="near_duplicates", severity=_severity(frac, p), split=split.name, count=count, fraction=frac,
            message=f"{count} {_noun(split)} of {split.name} are near copies of another item of {split.name} "
                    f"({how})",
            examples=examples,
            details={"method": how, "hamming_radius": p["hamming_radius"] if ph is not None else None,
                     "pairs": len(pairs)},
        )


@register_check({
    "near_split_overlap": {"warning_fraction": 0.0, "error_fraction": 0.05, "hamming_radius": 8},
})
def near_split_overlap(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Near copies across splits that are not exact copies (those are ``split_overlap``)."""
    p = ctx.params("near_split_overlap")
    for earlier, later, vs_ref in _overlap_pairs(stats):
        matches: dict[int, tuple[int, int | None]] = {}
        lt, et = _text_near(later), _text_near(earlier)
        if lt is not None and et is not None:
            l_idx, l_content, l_norm = lt
            e_idx, e_content, e_norm = et  # raw text hashes: exact text copies are not near copies
            exact, _ = lookup(*_keys(earlier, "raw"), l_content)
            hit, where = lookup(*_keys(earlier, "norm"), l_norm)
            for a, b in zip(l_idx[hit & ~exact], where[hit & ~exact]):
                matches.setdefault(int(a), (int(b), None))
        lp, ep = _phash(later), _phash(earlier)
        if lp is not None and ep is not None:
            from dataaudit.profile.hamming import near_pairs

            found = near_pairs(lp[0], ep[0], int(p["hamming_radius"]))
            if len(found):
                a, b, d = lp[1][found[:, 0]], ep[1][found[:, 1]], found[:, 2]
                same = _content_of(later, a) == _content_of(earlier, b)
                for x, y, dist in sorted(zip(a[~same].tolist(), b[~same].tolist(), d[~same].tolist()),
                                         key=lambda t: (t[0], t[2])):
                    matches.setdefault(int(x), (int(y), int(dist)))
        if not matches:
            continue
        count = len(matches)
        frac = count / max(later.rows, 1)
        sev = _severity(frac, p) if vs_ref else Severity.WARNING
        if sev == Severity.INFO:
            sev = Severity.WARNING
        examples = []
        for item in sorted(matches)[: ctx.example_cap]:
            of, dist = matches[item]
            ex = {**later.item(item), "duplicate_of": earlier.item(of)}
            if dist is not None:
                ex["hamming_distance"] = dist
            examples.append(ex)
        yield Finding(
            check="near_split_overlap", severity=sev, split=later.name, count=count, fraction=frac,
            message=f"{count} {later.name} {_noun(later)} are near copies of {earlier.name} items "
                    f"({frac:.1%} of {later.name})",
            examples=examples,
            details={"other_split": earlier.name, "hamming_radius": p["hamming_radius"],
                     "warning_fraction": p["warning_fraction"], "error_fraction": p["error_fraction"]},
        )
