"""Small shared helpers for the quickstart scripts (standard library only)."""

import csv
import json
import math
import os


def ensure_parent(path):
    """Create the directory that will hold `path`, if any."""
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def read_table(path):
    """Read a CSV with a header row; every column is numeric.

    Returns (header, rows) where rows is a list of lists of floats.
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [[float(v) for v in row] for row in reader if row]
    return header, rows


def write_table(path, header, rows):
    """Write rows (lists of already-formatted strings or numbers) as CSV."""
    ensure_parent(path)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


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
    """Numerically stable logistic function."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
