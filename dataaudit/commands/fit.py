"""``dataaudit fit``: fit preprocessing on the train split and write the artefact."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    from dataaudit.commands.scan import add_source_arguments

    p = sub.add_parser(
        "fit", help="fit preprocessing on the train split and write preprocess.json",
        description="Fit preprocessing on the train split only (val/test are never opened for statistics) and "
                    "write one JSON artefact. Tables: imputation, standard (or robust) scaling, categorical "
                    "vocabularies with an unknown bucket, the label map and the output column order. Images: "
                    "target size, mode, per-channel mean/std of the resized pixels, the class map. Load it "
                    "with dataaudit.transforms.load_transforms(PATH).",
    )  # fmt: skip
    p.add_argument("source", help="dataset folder, table file, or hf://NAMESPACE/NAME")
    p.add_argument("-o", "--output", default="preprocess.json", metavar="PATH",
                   help="artefact to write (default: preprocess.json)")
    add_source_arguments(p)
    g = p.add_argument_group("tables")
    g.add_argument("--robust", action="store_true", help="robust scaling: subtract the median, divide by the IQR")
    g.add_argument("--scaling", choices=("standard", "robust", "none"), help="numeric scaling (default: standard)")
    g.add_argument("--impute", choices=("median", "mean"),
                   help="numeric imputation value (default: median)")
    g.add_argument("--categories", choices=("onehot", "index"),
                   help="categorical encoding: one-hot with an unknown slot, or an index with 0 = unknown "
                        "(default: onehot)")
    g.add_argument("--max-categories", type=int, metavar="N",
                   help="vocabulary cap per column, most frequent first (default 100)")
    g.add_argument("--min-frequency", type=int, metavar="N",
                   help="train count a value needs (at least N) to get its own slot (default 1)")
    g.add_argument("--categorical", action="append", default=[], metavar="COL", help="treat COL as categorical")
    g.add_argument("--numeric", action="append", default=[], metavar="COL", help="treat COL as numeric")
    g.add_argument("--drop", action="append", default=[], metavar="COL", help="leave COL out of the features")
    g.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="what the label is (default: classes unless it is a many-valued number)")
    g = p.add_argument_group("images")
    g.add_argument("--image-size", metavar="WxH", help="target size (default: median train size, multiple of 8)")
    g = p.add_argument_group("output")
    g.add_argument("--safetensors", action="store_true",
                   help="also write the fitted numbers as <output>.safetensors for non-Python consumers")
    g.add_argument("--torchscript", metavar="PATH.pt",
                   help="also export the inference preprocessing as one TorchScript module (needs [torch])")
    g.add_argument("--format", dest="report_format", choices=("console", "json"), default="console",
                   help="print a summary (console) or the artefact itself (json) on stdout")
    g.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataaudit.commands.scan import config_from_args
    from dataaudit.fit import fit

    quiet = args.quiet
    args.quiet = True  # no progress bar: fit prints its own summary
    if args.torchscript:
        from pathlib import Path

        from dataaudit.errors import UsageError, require

        require("torch", "torch")  # before fitting: a missing extra must not leave a half-done output
        if Path(args.torchscript).resolve() == Path(args.output).resolve():
            raise UsageError("--torchscript must name another file than --output")
    cfg = config_from_args(args, args.source)
    # fit without writing, build the TorchScript module, and only then write: an option
    # that cannot be honoured leaves nothing behind
    art = fit(
        args.source, None, config=cfg, robust=args.robust, scaling=args.scaling, impute=args.impute,
        categories=args.categories, max_categories=args.max_categories, min_frequency=args.min_frequency,
        categorical=args.categorical, numeric=args.numeric, drop=args.drop, task=args.task,
        image_size=args.image_size,
    )  # fmt: skip
    module = None
    if args.torchscript:
        from dataaudit.transforms.export import scripted_module

        module = scripted_module(art)
    art.save(args.output, tensors=args.safetensors)
    if module is not None:
        from dataaudit.transforms.export import save_module

        save_module(module, args.torchscript)
    if args.report_format == "json":
        sys.stdout.write(art.to_json())
        return 0
    if not quiet:
        sys.stdout.write(summary(art, args.torchscript))
    return 0


def summary(art: Any, torchscript: str | None = None) -> str:
    """A few lines saying what was fitted and where it went."""
    lines = [f"fitted on {art.split} of {art.source}: {art.items:,} {'images' if art.image else 'rows'}"
             f" (fingerprint {art.fingerprint})"]
    if art.table is not None:
        t = art.table
        nums = sum(1 for c in t.columns if c.kind == "numeric")
        lines.append(f"  {len(t.columns)} columns -> {len(t.features)} features ({nums} numeric, "
                     f"{len(t.columns) - nums} categorical; scaling {t.scaling}, impute {t.impute}, {t.encoding})")
        for name, reason in t.dropped.items():
            lines.append(f"  not a feature: {name}: {reason}")
    if art.image is not None:
        im = art.image
        mean = ", ".join(f"{v:.4f}" for v in im.mean)
        std = ", ".join(f"{v:.4f}" for v in im.std)
        lines.append(f"  size {im.width}x{im.height} ({im.mode}), mean [{mean}], std [{std}]")
    if art.label is not None:
        lines.append(f"  label {art.label.column!r}: {len(art.label.classes)} classes")
    elif art.options.get("task") == "regression":
        lines.append(f"  label {art.options.get('label_column')!r}: regression target (no class map)")
    skipped = art.options.get("malformed_rows_skipped")
    if skipped:  # wrong field counts, open quotes, bytes that are not UTF-8: never fitted on
        lines.append(f"  {skipped:,} malformed row(s) left out; `dataaudit scan` lists them")
    lines.append(f"wrote {art.path}" + (f" and {art.tensors_file}" if art.tensors_file else "")
                 + (f"; TorchScript module {torchscript}" if torchscript else ""))
    return "\n".join(lines) + "\n"
