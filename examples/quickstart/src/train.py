"""Logistic regression trained by full-batch gradient descent.

usage: train.py --lr F --epochs N --l2 F TRAIN_CSV OUT_MODEL_JSON

Features are standardised with the training-set mean and standard deviation;
those statistics are stored in the model so evaluation applies the same
transform. The last CSV column is the 0/1 label.
"""

import argparse
import math
from operator import mul

from common import read_table, sigmoid, write_json


def log_loss(ys, ps, eps=1e-15):
    total = 0.0
    for y, p in zip(ys, ps):
        p = min(max(p, eps), 1.0 - eps)
        total -= y * math.log(p) + (1.0 - y) * math.log(1.0 - p)
    return total / len(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--l2", type=float, required=True)
    ap.add_argument("train_csv")
    ap.add_argument("out_model")
    args = ap.parse_args()

    header, rows = read_table(args.train_csv)
    features = header[:-1]
    d = len(features)
    n = len(rows)
    ys = [r[-1] for r in rows]

    means = [sum(r[j] for r in rows) / n for j in range(d)]
    stds = []
    for j in range(d):
        var = sum((r[j] - means[j]) ** 2 for r in rows) / n
        stds.append(math.sqrt(var) or 1.0)

    xs = [tuple((r[j] - means[j]) / stds[j] for j in range(d)) for r in rows]
    cols = list(zip(*xs))  # column-major copy for fast gradient sums

    w = [0.0] * d
    b = 0.0
    for _ in range(args.epochs):
        errs = [sigmoid(b + sum(map(mul, w, x))) - y for x, y in zip(xs, ys)]
        grad_b = sum(errs) / n
        for j in range(d):
            grad_w = sum(map(mul, errs, cols[j])) / n + args.l2 * w[j]
            w[j] -= args.lr * grad_w
        b -= args.lr * grad_b

    ps = [sigmoid(b + sum(map(mul, w, x))) for x in xs]
    train_loss = log_loss(ys, ps)
    train_acc = sum((p >= 0.5) == (y == 1.0) for p, y in zip(ps, ys)) / n

    model = {
        "type": "logistic_regression",
        "features": features,
        "weights": [round(v, 8) for v in w],
        "bias": round(b, 8),
        "means": [round(v, 8) for v in means],
        "stds": [round(v, 8) for v in stds],
        "hyperparameters": {"lr": args.lr, "epochs": args.epochs, "l2": args.l2},
        "train": {
            "rows": n,
            "log_loss": round(train_loss, 6),
            "accuracy": round(train_acc, 6),
        },
    }
    write_json(args.out_model, model)
    print(f"train: {n} rows, train log-loss {train_loss:.4f}, "
          f"train accuracy {train_acc:.4f} -> {args.out_model}")


if __name__ == "__main__":
    main()
