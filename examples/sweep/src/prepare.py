"""Deterministic train/test split.

usage: prepare.py --test-fraction F --seed N IN_CSV OUT_DIR

Writes OUT_DIR/train.csv and OUT_DIR/test.csv.
"""

import argparse
import csv
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--test-fraction", type=float, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("in_csv")
    ap.add_argument("out_dir")
    args = ap.parse_args()
    if not 0.0 < args.test_fraction < 1.0:
        ap.error("--test-fraction must be strictly between 0 and 1")

    with open(args.in_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [row for row in reader if row]

    order = list(range(len(rows)))
    random.Random(args.seed).shuffle(order)
    n_test = round(len(rows) * args.test_fraction)
    splits = {"test.csv": sorted(order[:n_test]), "train.csv": sorted(order[n_test:])}

    os.makedirs(args.out_dir, exist_ok=True)
    for name, idx in sorted(splits.items()):
        with open(os.path.join(args.out_dir, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows[i] for i in idx)
    print(f"prepare: {len(splits['train.csv'])} train / {n_test} test -> {args.out_dir}")


if __name__ == "__main__":
    main()
