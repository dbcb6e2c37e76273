"""Synthesize a churn-like binary-classification table.

usage: generate.py --seed N --rows N OUT_CSV

Each row is a customer with six numeric features; the label `churned` is drawn
from a logistic model of a hidden linear score, so the task is learnable but
noisy (the best possible accuracy is well below 100%).
"""

import argparse
import math
import random

from common import sigmoid, write_table

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "contract_months",
    "data_usage_gb",
    "age",
]


def make_customer(rng):
    tenure = rng.randint(1, 72)
    contract = rng.choice([1, 1, 12, 24])
    charges = min(max(rng.gauss(70.0, 20.0), 18.0), 130.0)
    support_calls = min(int(rng.expovariate(0.6)), 12)
    usage = round(rng.lognormvariate(2.5, 0.6), 2)
    age = rng.randint(18, 80)

    # Hidden "true" churn score. Age is pure noise: the model must learn to
    # ignore it.
    score = (
        3.0
        - 0.10 * tenure
        + 0.08 * (charges - 70.0)
        + 1.00 * support_calls
        - 0.16 * contract
        - 0.05 * (usage - 14.0)
    )
    churned = 1 if rng.random() < sigmoid(score) else 0
    return [tenure, round(charges, 2), support_calls, contract, usage, age, churned]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("out_csv")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    rows = [make_customer(rng) for _ in range(args.rows)]
    write_table(args.out_csv, FEATURES + ["churned"], rows)
    rate = sum(r[-1] for r in rows) / len(rows)
    print(f"generate: {len(rows)} rows, churn rate {rate:.3f} -> {args.out_csv}")


if __name__ == "__main__":
    main()
