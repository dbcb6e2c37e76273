"""Shared helpers for the sweep scripts (standard library only)."""

import csv
import json
import math
import os


def ensure_parent(path):
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def read_table(path):
    """Read a numeric CSV with a header; the last column is the 0/1 label.

    Returns (feature_names, rows, labels).
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows, labels = [], []
        for row in reader:
            if row:
                rows.append([float(v) for v in row[:-1]])
                labels.append(int(row[-1]))
    return header[:-1], rows, labels


def write_json(path, obj):
    """Write JSON reproducibly: sorted keys, 2-space indent, trailing newline."""
    ensure_parent(path)
    with open(path, "w") as f:
        json.dump(obj, f, sort_keys=True, indent=2)
        f.write("\n")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def log_loss(labels, probs, eps=1e-15):
    total = 0.0
    for y, p in zip(labels, probs):
        p = min(max(p, eps), 1.0 - eps)
        total -= math.log(p) if y == 1 else math.log(1.0 - p)
    return total / len(labels)


def accuracy(labels, probs, threshold=0.5):
    return sum((p >= threshold) == (y == 1) for y, p in zip(labels, probs)) / len(labels)


def roc_auc(labels, probs):
    """ROC AUC via the rank-sum (Mann-Whitney U) statistic, ties averaged."""
    order = sorted(range(len(probs)), key=lambda i: probs[i])
    ranks = [0.0] * len(probs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and probs[order[j + 1]] == probs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, labels) if y == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
