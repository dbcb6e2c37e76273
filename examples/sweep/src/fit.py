"""Gradient-boosted decision trees for binary classification, in pure Python.

usage: fit.py --lr F --depth N --rounds N --subsample F --bins N --seed N
              TRAIN_CSV TEST_CSV OUT_MODEL_JSON OUT_METRICS_JSON

Each round fits a regression tree of at most `--depth` levels to the gradient
of the logistic loss (Newton boosting, as in XGBoost) on a seeded random
`--subsample` of the training rows, and adds it to the ensemble scaled by the
learning rate `--lr`. `--depth 1` gives classic boosted stumps. Split search is
histogram-based: each feature is bucketed into at most `--bins` quantile bins.

The model (trees as nested JSON) goes to OUT_MODEL_JSON; train/test accuracy,
test ROC AUC and log-loss go to OUT_METRICS_JSON.
"""

import argparse
import bisect
import math
import random

from common import accuracy, log_loss, read_table, roc_auc, sigmoid, write_json

L2 = 1.0  # leaf-weight regularisation (lambda)
MIN_CHILD_HESSIAN = 1.0


def quantile_edges(values, bins):
    """At most bins-1 distinct cut points at the training-set quantiles."""
    s = sorted(values)
    edges = {s[(len(s) * k) // bins] for k in range(1, bins)}
    return sorted(edges)


def build_tree(idx, cols, edges, g, h, depth, lr):
    """Grow one tree on rows `idx`; returns a nested dict."""
    G = sum(g[i] for i in idx)
    H = sum(h[i] for i in idx)
    leaf = {"value": round(-lr * G / (H + L2), 10)}
    if depth == 0 or len(idx) < 2:
        return leaf

    parent_score = G * G / (H + L2)
    best = None  # (gain, feature, bin)
    for f, col in enumerate(cols):
        n_bins = len(edges[f]) + 1
        hg = [0.0] * n_bins
        hh = [0.0] * n_bins
        for i in idx:
            b = col[i]
            hg[b] += g[i]
            hh[b] += h[i]
        gl = hl = 0.0
        for b in range(n_bins - 1):  # split: bin <= b goes left
            gl += hg[b]
            hl += hh[b]
            hr = H - hl
            if hl < MIN_CHILD_HESSIAN or hr < MIN_CHILD_HESSIAN:
                continue
            gr = G - gl
            gain = gl * gl / (hl + L2) + gr * gr / (hr + L2) - parent_score
            if best is None or gain > best[0]:
                best = (gain, f, b)

    if best is None or best[0] <= 1e-12:
        return leaf
    _, f, b = best
    col = cols[f]
    left = [i for i in idx if col[i] <= b]
    right = [i for i in idx if col[i] > b]
    return {
        "feature": f,
        "threshold": edges[f][b],  # go left when x[feature] <= threshold
        "left": build_tree(left, cols, edges, g, h, depth - 1, lr),
        "right": build_tree(right, cols, edges, g, h, depth - 1, lr),
    }


def predict_tree(tree, x):
    while "value" not in tree:
        tree = tree["left"] if x[tree["feature"]] <= tree["threshold"] else tree["right"]
    return tree["value"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--subsample", type=float, default=1.0)
    ap.add_argument("--bins", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("train_csv")
    ap.add_argument("test_csv")
    ap.add_argument("out_model")
    ap.add_argument("out_metrics")
    args = ap.parse_args()

    features, x_train, y_train = read_table(args.train_csv)
    test_features, x_test, y_test = read_table(args.test_csv)
    if test_features != features:
        raise SystemExit("train and test columns differ")
    n, d = len(x_train), len(features)

    # Bucket each feature once; bin index = number of cut points below x.
    edges = [quantile_edges([r[f] for r in x_train], args.bins) for f in range(d)]
    cols = [[bisect.bisect_left(edges[f], r[f]) for r in x_train] for f in range(d)]

    pos = sum(y_train) / n
    base = math.log(pos / (1.0 - pos))
    margin = [base] * n
    rng = random.Random(args.seed)
    trees = []
    for _ in range(args.rounds):
        p = [sigmoid(m) for m in margin]
        g = [pi - yi for pi, yi in zip(p, y_train)]
        h = [pi * (1.0 - pi) for pi in p]
        idx = [i for i in range(n) if rng.random() < args.subsample]
        tree = build_tree(idx, cols, edges, g, h, args.depth, args.lr)
        trees.append(tree)
        margin = [m + predict_tree(tree, x) for m, x in zip(margin, x_train)]

    def predict(x):
        return sigmoid(base + sum(predict_tree(t, x) for t in trees))

    p_train = [predict(x) for x in x_train]
    p_test = [predict(x) for x in x_test]
    metrics = {
        "accuracy": round(accuracy(y_test, p_test), 6),
        "roc_auc": round(roc_auc(y_test, p_test), 6),
        "log_loss": round(log_loss(y_test, p_test), 6),
        "train_accuracy": round(accuracy(y_train, p_train), 6),
        "train_log_loss": round(log_loss(y_train, p_train), 6),
    }
    model = {
        "type": "gradient_boosted_trees",
        "features": features,
        "base_margin": round(base, 10),
        "hyperparameters": {
            "lr": args.lr,
            "depth": args.depth,
            "rounds": args.rounds,
            "subsample": args.subsample,
            "bins": args.bins,
            "seed": args.seed,
            "l2": L2,
        },
        "trees": trees,
    }
    write_json(args.out_model, model)
    write_json(args.out_metrics, metrics)
    print(f"fit lr={args.lr:g} depth={args.depth}: test accuracy {metrics['accuracy']:.4f}, "
          f"AUC {metrics['roc_auc']:.4f} -> {args.out_model}, {args.out_metrics}")


if __name__ == "__main__":
    main()
