"""``corrupt_file``: files of the dataset that cannot be read or decoded."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.report.model import Finding, Severity
from dataaudit.sources.base import FileProblem

KIND_WORDS = {
    "empty": "empty", "binary": "binary (not text)", "unreadable": "unreadable",
    "not_image": "not images", "truncated": "truncated", "undecodable": "undecodable",
    "missing": "missing (dangling links)", "outside": "links out of the dataset (not followed)",
    "link_loop": "symbolic link loops", "not_regular": "not regular files (FIFO, device or socket)",
}  # fmt: skip


@register_check({"corrupt_file": {}})
def corrupt_files(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """One finding per split listing every file that could not be read, by kind.

    ``fraction`` is the count over the files examined: for an image split its listed
    images plus the names that could not be listed, for a table split its files.
    """
    by_split: dict[str | None, list[FileProblem]] = defaultdict(list)
    for split in stats.ordered:
        for prob in split.file_problems:
            by_split[prob.split if prob.split is not None else split.name].append(prob)
    for split_name, probs in by_split.items():
        kinds = Counter(p.kind for p in probs)
        known = stats.splits.get(split_name or "")
        examined: int | None = None
        if known is not None and known.kind == "image":
            # a listed image that failed to decode is already one of the split's rows; a name
            # the listing could not include (a dangling link, a FIFO) is not
            examined = known.rows + sum(1 for p in probs if not p.counted)
        elif known is not None:  # tables: files of the split
            examined = len(set(known.files) | {p.path for p in probs})
        what = ", ".join(f"{n} {KIND_WORDS.get(k, k)}" for k, n in kinds.most_common())
        yield Finding(
            check="corrupt_file",
            severity=Severity.ERROR,
            split=split_name,
            count=len(probs),
            fraction=(len(probs) / examined) if examined else None,
            message=f"{len(probs)} file(s) in {split_name} cannot be read: {what}",
            examples=[{"split": split_name, "path": p.path, "kind": p.kind, "reason": p.message}
                      for p in probs[: ctx.example_cap]],
            details={"kinds": dict(kinds)},
        )
