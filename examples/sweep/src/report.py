"""Rank the runs of a sweep in a markdown table.

usage: report.py METRICS_DIR OUT_MARKDOWN

Reads every METRICS_DIR/metrics-<lr>-<depth>.json written by fit.py and writes
a table ranked by test ROC AUC (ties broken by log-loss, then lr and depth).
"""

import argparse
import glob
import json
import os

from common import ensure_parent


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("metrics_dir")
    ap.add_argument("out_md")
    args = ap.parse_args()

    runs = []
    for path in sorted(glob.glob(os.path.join(args.metrics_dir, "metrics-*.json"))):
        stem = os.path.basename(path)[len("metrics-"):-len(".json")]
        lr, depth = stem.split("-")
        with open(path) as f:
            m = json.load(f)
        runs.append({"lr": lr, "depth": depth, "file": os.path.basename(path), **m})
    if not runs:
        raise SystemExit(f"no metrics-*.json files in {args.metrics_dir}")

    runs.sort(key=lambda r: (-r["roc_auc"], r["log_loss"], float(r["lr"]), int(r["depth"])))

    lines = [
        "# Sweep report",
        "",
        f"{len(runs)} runs of gradient-boosted trees, ranked by test ROC AUC.",
        "",
        "| rank | lr | depth | test AUC | test accuracy | test log-loss | train accuracy |",
        "|-----:|---:|------:|---------:|--------------:|--------------:|---------------:|",
    ]
    for rank, r in enumerate(runs, 1):
        lines.append(
            f"| {rank} | {r['lr']} | {r['depth']} | {r['roc_auc']:.4f} | {r['accuracy']:.4f}"
            f" | {r['log_loss']:.4f} | {r['train_accuracy']:.4f} |"
        )
    best = runs[0]
    lines += [
        "",
        f"Best: lr={best['lr']}, depth={best['depth']} "
        f"(test AUC {best['roc_auc']:.4f}, accuracy {best['accuracy']:.4f}).",
        "",
    ]
    ensure_parent(args.out_md)
    with open(args.out_md, "w") as f:
        f.write("\n".join(lines))
    print(f"report: {len(runs)} runs -> {args.out_md}")


if __name__ == "__main__":
    main()
