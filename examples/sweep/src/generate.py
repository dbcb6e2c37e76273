"""Synthesize a binary-classification dataset with feature interactions.

usage: generate.py --params PARAMS_YAML OUT_CSV

Reads `data.seed`, `data.rows` and `data.noise` from the params file (via the
small YAML reader in params.py). The label depends on the *product* x1*x2, so
an additive model of depth-1 stumps cannot fit it well while depth-2+ trees
can: the sweep over `depth` has something to find. `data.noise` is the
probability that a label is flipped; x5 is irrelevant noise.
"""

import argparse
import csv
import random

from common import ensure_parent
import params


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True, help="params.yaml to read data.* from")
    ap.add_argument("out_csv")
    args = ap.parse_args()

    p = params.load(args.params)
    seed = int(params.get(p, "data.seed"))
    n_rows = int(params.get(p, "data.rows"))
    noise = float(params.get(p, "data.noise"))

    rng = random.Random(seed)
    rows = []
    for _ in range(n_rows):
        x = [round(rng.uniform(-1.0, 1.0), 4) for _ in range(5)]
        x1, x2, x3, x4, _x5 = x
        score = 2.0 * x1 * x2 + 0.6 * x3 - 0.5 * (x4 * x4 - 0.33)
        label = 1 if score > 0 else 0
        if rng.random() < noise:
            label = 1 - label
        rows.append(x + [label])

    ensure_parent(args.out_csv)
    with open(args.out_csv, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["x1", "x2", "x3", "x4", "x5", "label"])
        w.writerows(rows)
    rate = sum(r[-1] for r in rows) / n_rows
    print(f"generate: {n_rows} rows, positive rate {rate:.3f} -> {args.out_csv}")


if __name__ == "__main__":
    main()
