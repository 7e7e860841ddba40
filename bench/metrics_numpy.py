"""The metric engine's computation done the numpy way, for bench/metrics.bench.ts.

Reads the bench's binary file (blocks of: int32 dataset flag and rows; float64 features
[20, rows]; float32 teacher and candidate scores; uint8 labels; uint8 codes [4, rows] for
region, device, tier and the sensitive attribute), loads everything into memory, and computes
in one process: accuracy drop with Newcombe's paired interval, agreement, demographic parity,
PSI (reference deciles, epsilon 1e-4) and KS per feature and for the predictions, all overall and
per slice value, plus latency quantiles. Prints timing and peak RSS as JSON.
"""

import json
import math
import resource
import sys
import time

import numpy as np

FEATURES = 20
EPSILON = 1e-4
Z = 1.959963984540054


def load(path):
    raw = np.fromfile(path, dtype=np.uint8)
    parts = {0: [], 1: []}
    position = 0
    while position < len(raw):
        flag, rows = np.frombuffer(raw, dtype=np.int32, count=2, offset=position)
        position += 8
        block = {}
        for name, dtype, count in (
            ("features", np.float64, FEATURES * rows),
            ("teacher", np.float32, rows),
            ("candidate", np.float32, rows),
            ("labels", np.uint8, rows),
            ("codes", np.uint8, 4 * rows),
        ):
            block[name] = np.frombuffer(raw, dtype=dtype, count=count, offset=position).copy()
            position += count * np.dtype(dtype).itemsize
        block["features"] = block["features"].reshape(FEATURES, rows)
        block["codes"] = block["codes"].reshape(4, rows)
        parts[int(flag)].append(block)
    del raw

    def join(blocks):
        return {
            "features": np.concatenate([b["features"] for b in blocks], axis=1),
            "teacher": np.concatenate([b["teacher"] for b in blocks]),
            "candidate": np.concatenate([b["candidate"] for b in blocks]),
            "labels": np.concatenate([b["labels"] for b in blocks]),
            "codes": np.concatenate([b["codes"] for b in blocks], axis=1),
        }

    return join(parts[0]), join(parts[1])


def psi(reference_counts, current_counts):
    r = reference_counts / reference_counts.sum()
    c = current_counts / current_counts.sum()
    r = np.where(reference_counts > 0, r, EPSILON)
    c = np.where(current_counts > 0, c, EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_drift(reference, current, with_ks=True):
    edges = np.unique(np.quantile(reference, np.arange(1, 10) / 10, method="lower"))
    reference_counts = np.bincount(np.searchsorted(edges, reference), minlength=len(edges) + 1)
    current_counts = np.bincount(np.searchsorted(edges, current), minlength=len(edges) + 1)
    value = psi(reference_counts, current_counts)
    if not with_ks:
        return value, None
    r = np.sort(reference)
    c = np.sort(current)
    both = np.concatenate([r, c])
    ks = np.max(np.abs(np.searchsorted(r, both, side="right") / len(r) - np.searchsorted(c, both, side="right") / len(c)))
    return value, float(ks)


def wilson(successes, trials):
    p = successes / trials
    denominator = 1 + Z * Z / trials
    centre = (p + Z * Z / (2 * trials)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / trials + Z * Z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_and_fairness(teacher_right, candidate_right, agree, positive, sensitive):
    a = int(np.count_nonzero(teacher_right & candidate_right))
    b = int(np.count_nonzero(teacher_right & ~candidate_right))
    c = int(np.count_nonzero(~teacher_right & candidate_right))
    d = len(teacher_right) - a - b - c
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    marginals = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0 if marginals == 0 else (a * d - b * c) / math.sqrt(marginals)
    interval = (
        p1 - p2 - math.sqrt(max(0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)),
        p1 - p2 + math.sqrt(max(0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)),
    )
    rows = np.bincount(sensitive, minlength=3)
    positives = np.bincount(sensitive, weights=positive, minlength=3)
    deciding = rows >= 30
    rates = positives[deciding] / rows[deciding]
    return {
        "accuracyDrop": (b - c) / n,
        "interval": interval,
        "agreement": float(np.count_nonzero(agree)) / n,
        "demographicParity": float(rates.max() - rates.min()) if len(rates) >= 2 else None,
    }


def evaluate(reference, current):
    teacher_class = current["teacher"] >= 0.5
    candidate_class = current["candidate"] >= 0.5
    labels = current["labels"] == 1
    teacher_right = teacher_class == labels
    candidate_right = candidate_class == labels
    agree = teacher_class == candidate_class
    positive = candidate_class.astype(np.float64)
    sensitive = current["codes"][3]

    report = {"overall": accuracy_and_fairness(teacher_right, candidate_right, agree, positive, sensitive)}
    drift = {}
    for f in range(FEATURES):
        drift[f"f{f}"] = numeric_drift(reference["features"][f], current["features"][f])
    drift["(prediction)"] = numeric_drift(reference["candidate"], current["candidate"])
    report["drift"] = drift

    slices = {}
    for column, name in enumerate(("region", "device", "tier")):
        current_codes = current["codes"][column]
        reference_codes = reference["codes"][column]
        for value in np.unique(current_codes):
            mask = current_codes == value
            reference_mask = reference_codes == value
            entry = accuracy_and_fairness(
                teacher_right[mask], candidate_right[mask], agree[mask], positive[mask], sensitive[mask]
            )
            entry["psi"] = numeric_drift(reference["candidate"][reference_mask], current["candidate"][mask])[0]
            slices[f"{name}={value}"] = entry
    report["slices"] = slices

    latency = 5 + 20 * np.random.default_rng(1).random(10_000)
    report["latency"] = np.quantile(latency, [0.5, 0.95, 0.99], method="lower").tolist()
    return report


def main():
    reference, current = load(sys.argv[1])
    start = time.perf_counter()
    report = evaluate(reference, current)
    seconds = time.perf_counter() - start
    worst = max(report["drift"], key=lambda k: report["drift"][k][0])
    json.dump(
        {
            "rows": len(reference["teacher"]) + len(current["teacher"]),
            "seconds": seconds,
            "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "psi": report["drift"][worst][0],
            "worstPsi": worst,
            "accuracyDrop": report["overall"]["accuracyDrop"],
            "demographicParity": report["overall"]["demographicParity"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
