"""Evaluate a logistic-regression model on a held-out split.

usage: evaluate.py --threshold F MODEL_JSON TEST_CSV OUT_METRICS_JSON

Reports accuracy, precision, recall, F1 (at the given decision threshold),
log-loss and ROC AUC.
"""

import argparse
import math
from operator import mul

from common import read_json, read_table, sigmoid, write_json


def roc_auc(ys, ps):
    """Area under the ROC curve via the rank-sum statistic (ties averaged)."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    ranks = [0.0] * len(ps)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and ps[order[j + 1]] == ps[order[i]]:
            j += 1
        avg_rank = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = avg_rank
        i = j + 1
    n_pos = sum(1 for y in ys if y == 1)
    n_neg = len(ys) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, ys) if y == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("model_json")
    ap.add_argument("test_csv")
    ap.add_argument("out_metrics")
    args = ap.parse_args()

    model = read_json(args.model_json)
    header, rows = read_table(args.test_csv)
    if header[:-1] != model["features"]:
        raise SystemExit(f"feature mismatch: {header[:-1]} vs {model['features']}")

    w, b = model["weights"], model["bias"]
    means, stds = model["means"], model["stds"]
    ys = [int(r[-1]) for r in rows]
    ps = []
    for r in rows:
        x = [(v - m) / s for v, m, s in zip(r[:-1], means, stds)]
        ps.append(sigmoid(b + sum(map(mul, w, x))))

    preds = [1 if p >= args.threshold else 0 for p in ps]
    tp = sum(1 for p, y in zip(preds, ys) if p == 1 and y == 1)
    fp = sum(1 for p, y in zip(preds, ys) if p == 1 and y == 0)
    fn = sum(1 for p, y in zip(preds, ys) if p == 0 and y == 1)
    tn = len(ys) - tp - fp - fn

    accuracy = (tp + tn) / len(ys)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    eps = 1e-15
    loss = -sum(
        y * math.log(min(max(p, eps), 1 - eps)) + (1 - y) * math.log(min(max(1 - p, eps), 1 - eps))
        for p, y in zip(ps, ys)
    ) / len(ys)
    auc = roc_auc(ys, ps)
    base_rate = sum(ys) / len(ys)

    metrics = {
        "accuracy": round(accuracy, 6),
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "log_loss": round(loss, 6),
        "roc_auc": round(auc, 6),
        # Accuracy of always predicting the majority class: the bar to beat.
        "majority_baseline": round(max(base_rate, 1 - base_rate), 6),
        "test_rows": len(ys),
    }
    write_json(args.out_metrics, metrics)
    print("evaluate: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()))
          + f" -> {args.out_metrics}")


if __name__ == "__main__":
    main()
