"""Independent reference computations for the metric engine's oracle tests.

Reads one JSON request on stdin, writes one JSON answer on stdout. Everything here is computed
from the raw data with numpy/scipy, never from the engine's internal state; the engine's own
outputs are only used where a definition depends on them (the PSI bin edges it reports).
"""

import json
import math
import sys

import numpy as np
from scipy import stats


def wilson(successes, trials, confidence):
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_independent(x1, n1, x2, n2, confidence):
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def newcombe_paired(table, confidence):
    a, b, c, d = table
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, confidence)
    l2, u2 = wilson(a + c, n, confidence)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0 if denominator == 0 else (a * d - b * c) / math.sqrt(denominator)
    lo = p1 - p2 - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = p1 - p2 + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return lo, hi


def psi_from_counts(ref_counts, cur_counts, epsilon):
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    r = np.where(r > 0, r / r.sum(), epsilon)
    c = np.where(c > 0, c / c.sum(), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_drift(ref, cur, edges, bins, epsilon, relative_accuracy):
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
    gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
    answer = {}
    # The reference quantiles the engine's edges approximate (numpy's method='lower').
    answer["referenceQuantiles"] = [
        float(np.quantile(ref, j / bins, method="lower")) for j in range(1, bins)
    ]
    # PSI over the engine's reported edges: bins (-inf, e1], (e1, e2], ...
    edges = np.asarray(edges, dtype=float)
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
    answer["psiOnEngineEdges"] = psi_from_counts(ref_counts, cur_counts, epsilon)
    # PSI with numpy's own quantile edges (differs from the engine by the edge rounding only).
    own_edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins, method="lower"))
    ref_own = np.bincount(np.searchsorted(own_edges, ref, side="left"), minlength=len(own_edges) + 1)
    cur_own = np.bincount(np.searchsorted(own_edges, cur, side="left"), minlength=len(own_edges) + 1)
    answer["psiOnNumpyEdges"] = psi_from_counts(ref_own, cur_own, epsilon)
    answer["ks"] = float(stats.ks_2samp(ref, cur).statistic)
    # KS of the data rounded to the sketch's buckets: what the engine computes exactly.
    def bucketed(x):
        magnitude = np.abs(x)
        keys = np.ceil(np.log(np.where(magnitude > 1e-9, magnitude, 1.0)) / math.log(gamma))
        return np.where(magnitude > 1e-9, np.sign(x) * (keys + 1e7), 0.0)
    answer["ksBucketed"] = float(stats.ks_2samp(bucketed(ref), bucketed(cur)).statistic)
    return answer


def main():
    request = json.load(sys.stdin)
    confidence = request["confidence"]
    answer = {}

    answer["drift"] = {
        name: numeric_drift(
            spec["reference"], spec["current"], spec["edges"], request["psiBins"],
            request["psiEpsilon"], request["featureRelativeAccuracy"],
        )
        for name, spec in request["numericDrift"].items()
    }

    answer["categoricalPsi"] = {}
    for name, spec in request["categoricalDrift"].items():
        categories = sorted(set(spec["reference"]) | set(spec["current"]))
        ref = [spec["reference"].count(c) for c in categories]
        cur = [spec["current"].count(c) for c in categories]
        answer["categoricalPsi"][name] = psi_from_counts(ref, cur, request["psiEpsilon"])

    latency = np.asarray(request["latency"], dtype=float)
    answer["latency"] = {str(q): float(np.quantile(latency, q, method="lower")) for q in (0.5, 0.95, 0.99)}

    # Demographic parity from raw predictions and groups.
    threshold = request["decisionThreshold"]
    positive = np.asarray(request["fairness"]["candidateScores"], dtype=float) >= threshold
    groups = np.asarray(request["fairness"]["groups"])
    rates = {}
    for group in np.unique(groups):
        mask = groups == group
        if mask.sum() >= request["minGroupCount"]:
            rates[str(group)] = (int(positive[mask].sum()), int(mask.sum()))
    highest = max(rates, key=lambda g: rates[g][0] / rates[g][1])
    lowest = min(rates, key=lambda g: rates[g][0] / rates[g][1])
    hx, hn = rates[highest]
    lx, ln = rates[lowest]
    answer["demographicParity"] = {
        "value": hx / hn - lx / ln,
        "disparateImpactRatio": (lx / ln) / (hx / hn),
        "interval": newcombe_independent(hx, hn, lx, ln, confidence),
    }

    # Accuracy drop from raw classes and labels.
    teacher = (np.asarray(request["accuracy"]["teacherScores"], dtype=float) >= threshold).astype(int)
    candidate = (np.asarray(request["accuracy"]["candidateScores"], dtype=float) >= threshold).astype(int)
    labels = np.asarray(request["accuracy"]["labels"])
    t_right = teacher == labels
    c_right = candidate == labels
    table = [
        int(np.sum(t_right & c_right)),
        int(np.sum(t_right & ~c_right)),
        int(np.sum(~t_right & c_right)),
        int(np.sum(~t_right & ~c_right)),
    ]
    disagreements = int(np.sum(teacher != candidate))
    answer["accuracy"] = {
        "drop": float(t_right.mean() - c_right.mean()),
        "interval": newcombe_paired(table, confidence),
        "disagreement": disagreements / len(teacher),
        "disagreementInterval": wilson(disagreements, len(teacher), confidence),
    }

    answer["wilsonCases"] = [list(wilson(x, n, confidence)) for x, n in request["wilsonCases"]]
    answer["normalQuantile975"] = float(stats.norm.ppf(0.975))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
