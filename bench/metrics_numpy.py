"""The metric engine's computation done the numpy way, for bench/metrics.bench.ts.

Reads the bench's binary file (blocks of: int32 dataset flag and rows; float64 features
[20, rows]; float32 teacher and candidate scores; uint8 labels; uint8 codes [4, rows] for
region, device, tier and the sensitive attribute), loads everything into memory, and computes
in one process: accuracy drop with Newcombe's paired interval and McNemar's exact test,
negative flip rate, agreement, per-class recall drop (Newcombe, McNemar, Holm), calibration change
(ECE in 15 bins, Brier with a paired interval), demographic parity, PSI (reference deciles,
epsilon 1e-4) with its chi-squared test and Holm's correction, and KS per feature and for the
predictions, all overall and per slice value; the missing-value increase per feature; plus latency
quantiles. Prints timing and peak RSS as JSON.
"""

import json
import math
import resource
import sys
import time

import numpy as np
from scipy import stats

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


def psi_p_value(value, reference_counts, current_counts):
    """PSI · RC/(R + C) against chi-squared(k − 1) over the occupied bins."""
    occupied = np.count_nonzero(reference_counts + current_counts)
    r, c = reference_counts.sum(), current_counts.sum()
    return float(stats.chi2.sf(value * r * c / (r + c), occupied - 1)) if occupied > 1 else 1.0


def holm(p_values):
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def numeric_drift(reference, current, with_ks=True):
    edges = np.unique(np.quantile(reference, np.arange(1, 10) / 10, method="lower"))
    reference_counts = np.bincount(np.searchsorted(edges, reference), minlength=len(edges) + 1)
    current_counts = np.bincount(np.searchsorted(edges, current), minlength=len(edges) + 1)
    value = psi(reference_counts, current_counts)
    if not with_ks:
        return value, psi_p_value(value, reference_counts, current_counts)
    r = np.sort(reference)
    c = np.sort(current)
    both = np.concatenate([r, c])
    ks = np.max(np.abs(np.searchsorted(r, both, side="right") / len(r) - np.searchsorted(c, both, side="right") / len(c)))
    return value, float(ks), psi_p_value(value, reference_counts, current_counts)


def wilson(successes, trials):
    p = successes / trials
    denominator = 1 + Z * Z / trials
    centre = (p + Z * Z / (2 * trials)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / trials + Z * Z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(b, c):
    return float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5))) if b + c > 0 else 1.0


def paired_drop(teacher_right, candidate_right):
    """(a, b, c, d), (b − c)/n and Newcombe's paired interval."""
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
    return (a, b, c, d), (b - c) / n, interval


def class_recall_drop(teacher_right, candidate_right, labels):
    """Worst recall drop over the classes with ≥ 30 rows, McNemar per class, Holm across them."""
    drops, p_values = [], []
    for k in (0, 1):
        mask = labels == k
        if np.count_nonzero(mask) < 30:
            continue
        (_, b, c, _), drop, interval = paired_drop(teacher_right[mask], candidate_right[mask])
        drops.append((drop, interval))
        p_values.append(mcnemar(b, c))
    adjusted = holm(np.array(p_values))
    worst = max(range(len(drops)), key=lambda i: drops[i][0])
    return drops[worst][0], int(np.count_nonzero((adjusted <= 0.05) & (np.array([d for d, _ in drops]) > 0)))


def calibration(probability, labels):
    """Top-label ECE in 15 equal-width bins (b/15, (b+1)/15], and the Brier score per row."""
    confidence = np.maximum(probability, 1 - probability)
    right = (probability >= 0.5) == (labels == 1)
    bins = np.clip(np.ceil(confidence * 15).astype(np.int64) - 1, 0, 14)
    n = np.bincount(bins, minlength=15)
    gap = np.abs(np.bincount(bins, weights=right, minlength=15) - np.bincount(bins, weights=confidence, minlength=15))
    return float(gap.sum() / len(probability)), (probability - (labels == 1)) ** 2


def calibration_change(teacher, candidate, labels):
    teacher_ece, teacher_brier = calibration(teacher.astype(np.float64), labels)
    candidate_ece, candidate_brier = calibration(candidate.astype(np.float64), labels)
    difference = candidate_brier - teacher_brier
    half = Z * difference.std(ddof=1) / math.sqrt(len(difference))
    return candidate_ece - teacher_ece, (difference.mean() - half, difference.mean() + half)


def accuracy_and_fairness(teacher_right, candidate_right, agree, positive, sensitive, current):
    (a, b, c, d), drop, interval = paired_drop(teacher_right, candidate_right)
    n = a + b + c + d
    rows = np.bincount(sensitive, minlength=3)
    positives = np.bincount(sensitive, weights=positive, minlength=3)
    deciding = rows >= 30
    rates = positives[deciding] / rows[deciding]
    labels = current["labels"]
    return {
        "accuracyDrop": drop,
        "interval": interval,
        "mcnemar": mcnemar(b, c),
        "negativeFlipRate": (b / n, wilson(b, n)),
        "agreement": float(np.count_nonzero(agree)) / n,
        "classRecallDrop": class_recall_drop(teacher_right, candidate_right, labels),
        "calibrationChange": calibration_change(current["teacher"], current["candidate"], labels),
        "demographicParity": float(rates.max() - rates.min()) if len(rates) >= 2 else None,
    }


def missing_value_increase(reference, current):
    """The worst feature's current − reference share of NaN cells."""
    increases = [
        np.count_nonzero(np.isnan(current["features"][f])) / current["features"].shape[1]
        - np.count_nonzero(np.isnan(reference["features"][f])) / reference["features"].shape[1]
        for f in range(FEATURES)
    ]
    return max(increases)


def evaluate(reference, current):
    teacher_class = current["teacher"] >= 0.5
    candidate_class = current["candidate"] >= 0.5
    labels = current["labels"] == 1
    teacher_right = teacher_class == labels
    candidate_right = candidate_class == labels
    agree = teacher_class == candidate_class
    positive = candidate_class.astype(np.float64)
    sensitive = current["codes"][3]

    report = {"overall": accuracy_and_fairness(teacher_right, candidate_right, agree, positive, sensitive, current)}
    drift = {}
    for f in range(FEATURES):
        drift[f"f{f}"] = numeric_drift(reference["features"][f], current["features"][f])
    drift["(prediction)"] = numeric_drift(reference["candidate"], current["candidate"])
    adjusted = holm(np.array([d[-1] for d in drift.values()]))
    report["drift"] = {name: (*d, p) for (name, d), p in zip(drift.items(), adjusted)}
    report["missingValueIncrease"] = missing_value_increase(reference, current)

    slices = {}
    for column, name in enumerate(("region", "device", "tier")):
        current_codes = current["codes"][column]
        reference_codes = reference["codes"][column]
        for value in np.unique(current_codes):
            mask = current_codes == value
            reference_mask = reference_codes == value
            rows = {key: current[key][mask] for key in ("teacher", "candidate", "labels")}
            entry = accuracy_and_fairness(
                teacher_right[mask], candidate_right[mask], agree[mask], positive[mask], sensitive[mask], rows
            )
            value, p_value = numeric_drift(reference["candidate"][reference_mask], current["candidate"][mask], False)
            entry["psi"] = (value, p_value)
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
            "negativeFlipRate": report["overall"]["negativeFlipRate"][0],
            "classRecallDrop": report["overall"]["classRecallDrop"][0],
            "calibrationChange": report["overall"]["calibrationChange"][0],
            "missingValueIncrease": report["missingValueIncrease"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
