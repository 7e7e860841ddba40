"""Independent reference computations for the metric engine's oracle tests.

Reads one JSON request on stdin, writes one JSON answer on stdout. Everything here is computed
from the raw data with numpy/scipy/statsmodels, never from the engine's internal state; the
engine's own outputs are only used where a definition depends on them (the PSI bin edges it
reports).
"""

import json
import math
import sys

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint


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


def numeric_drift(ref, cur, edges, bins, epsilon, relative_accuracy, confidence):
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
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
    # Its test: PSI * RC/(R+C) against chi-squared with (occupied bins - 1) degrees of freedom.
    occupied = int(np.sum(ref_counts + cur_counts > 0))
    scale = len(ref) * len(cur) / (len(ref) + len(cur))
    answer["psiChiSquaredPValue"] = float(stats.chi2.sf(answer["psiOnEngineEdges"] * scale, occupied - 1))
    answer["psiNoiseBand"] = float(stats.chi2.ppf(confidence, occupied - 1) / scale)
    # PSI with numpy's own quantile edges (differs from the engine by the edge rounding only).
    own_edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins, method="lower"))
    ref_own = np.bincount(np.searchsorted(own_edges, ref, side="left"), minlength=len(own_edges) + 1)
    cur_own = np.bincount(np.searchsorted(own_edges, cur, side="left"), minlength=len(own_edges) + 1)
    answer["psiOnNumpyEdges"] = psi_from_counts(ref_own, cur_own, epsilon)
    answer["ks"] = float(stats.ks_2samp(ref, cur).statistic)
    # KS of the data rounded to the sketch's buckets: what the engine computes exactly.
    ref_b, cur_b = bucketed(ref, relative_accuracy), bucketed(cur, relative_accuracy)
    answer["ksBucketed"] = float(stats.ks_2samp(ref_b, cur_b).statistic)
    answer["ksPValueAsymp"] = float(stats.ks_2samp(ref_b, cur_b, method="asymp").pvalue)
    answer["ksPValueStephens"] = stephens_ks_pvalue(answer["ksBucketed"], len(ref_b), len(cur_b))
    return answer


def bucketed(x, relative_accuracy):
    """Values replaced by their sketch bucket (DDSketch's logarithmic mapping), order kept."""
    gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
    x = np.asarray(x, dtype=float)
    magnitude = np.abs(x)
    keys = np.ceil(np.log(np.where(magnitude > 1e-9, magnitude, 1.0)) / math.log(gamma))
    return np.where(magnitude > 1e-9, np.sign(x) * (keys + 1e7), 0.0)


def stephens_ks_pvalue(d, n, m):
    """Kolmogorov's limit at Stephens' modified statistic (Numerical Recipes 14.3.3)."""
    en = n * m / (n + m)
    return float(stats.kstwobign.sf((math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)) * d))


def significance(request):
    """Distributions and p-values behind the drift tests, from scipy."""
    spec = request["significance"]
    answer = {
        "chiSquaredSurvival": [float(stats.chi2.sf(x, dof)) for x, dof in spec["chiSquaredSurvival"]],
        "chiSquaredQuantile": [float(stats.chi2.ppf(p, dof)) for p, dof in spec["chiSquaredQuantile"]],
        "kolmogorovSurvival": [float(stats.kstwobign.sf(x)) for x in spec["kolmogorovSurvival"]],
        "ks": {},
    }
    for name, data in spec["ks"].items():
        ref = bucketed(data["reference"], request["featureRelativeAccuracy"])
        cur = bucketed(data["current"], request["featureRelativeAccuracy"])
        result = stats.ks_2samp(ref, cur, method="asymp")
        answer["ks"][name] = {
            "statistic": float(result.statistic),
            "scipyAsymp": float(result.pvalue),
            "stephens": stephens_ks_pvalue(float(result.statistic), len(ref), len(cur)),
        }
    # The exact permutation distribution of PSI over fixed categories: every way of dealing the
    # pooled rows of each category out to a current dataset of the same size (3 categories at most).
    exact = spec["exactPermutation"]
    categories = sorted(set(exact["reference"]) | set(exact["current"]))
    ref_counts = np.asarray([exact["reference"].count(c) for c in categories])
    cur_counts = np.asarray([exact["current"].count(c) for c in categories])
    pooled = ref_counts + cur_counts
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    log_total = math.lgamma(pooled.sum() + 1) - math.lgamma(n_cur + 1) - math.lgamma(n_ref + 1)
    def log_comb(n, k):
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    values, weights = [], []
    for x0 in range(0, min(pooled[0], n_cur) + 1):
        for x1 in range(0, min(pooled[1], n_cur - x0) + 1):
            x2 = n_cur - x0 - x1
            if x2 < 0 or x2 > pooled[2]:
                continue
            cur = np.array([x0, x1, x2])
            weights.append(math.exp(sum(log_comb(pooled[i], cur[i]) for i in range(3)) - log_total))
            values.append(psi_from_counts(pooled - cur, cur, request["psiEpsilon"]))
    values, weights = np.asarray(values), np.asarray(weights)
    observed = psi_from_counts(ref_counts, cur_counts, request["psiEpsilon"])
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    quantile = lambda q: float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])
    answer["exactPermutation"] = {
        "psi": observed,
        "pValue": float(weights[values >= observed * (1 - 1e-12)].sum() / weights.sum()),
        "quantiles": {str(q): quantile(q) for q in (0.93, 0.95, 0.97)},
        "totalProbability": float(weights.sum()),
    }
    return answer


def classes(scores, width, threshold):
    """Predicted classes: argmax (first maximum) of each row, or score >= threshold for one score."""
    scores = np.asarray(scores, dtype=float)
    if width == 1:
        return (scores >= threshold).astype(int)
    return np.argmax(scores.reshape(-1, width), axis=1)


def paired(request):
    """McNemar's exact test and the flip rates, from raw scores and labels (null: unlabelled)."""
    alpha = 1 - request["confidence"]
    answer = {"cases": {}, "tables": []}
    for name, case in request["paired"]["cases"].items():
        width = case["outputWidth"]
        teacher = classes(case["teacherScores"], width, request["decisionThreshold"])
        candidate = classes(case["candidateScores"], width, request["decisionThreshold"])
        labels = np.asarray([np.nan if y is None else y for y in case["labels"]], dtype=float)
        labelled = ~np.isnan(labels)
        t_right = teacher[labelled] == labels[labelled]
        c_right = candidate[labelled] == labels[labelled]
        a = int(np.sum(t_right & c_right))
        b = int(np.sum(t_right & ~c_right))
        c = int(np.sum(~t_right & c_right))
        d = int(np.sum(~t_right & ~c_right))
        n = a + b + c + d
        agreements = int(np.sum(teacher == candidate))
        answer["cases"][name] = {
            "table": [a, b, c, d],
            "mcnemarP": float(mcnemar([[a, b], [c, d]], exact=True).pvalue),
            "negativeFlipRate": b / n,
            "negativeFlipInterval": [float(x) for x in proportion_confint(b, n, alpha=alpha, method="wilson")],
            "positiveFlipRate": c / n,
            "agreement": agreements / len(teacher),
            "agreementInterval": [
                float(x) for x in proportion_confint(agreements, len(teacher), alpha=alpha, method="wilson")
            ],
        }
    for b, c in request["paired"]["tables"]:
        answer["tables"].append(float(mcnemar([[0, b], [c, 0]], exact=True).pvalue))
    return answer


def probabilities(scores, width):
    """Rows of probabilities: one score is P(class 1); several are used as they are when each row
    lies in [0, 1] and sums to 1 within 1e-3, and go through a softmax otherwise."""
    scores = np.asarray(scores, dtype=float)
    if width == 1:
        return np.stack([1 - scores, scores], axis=1)
    rows = scores.reshape(-1, width)
    exp = np.exp(rows - rows.max(axis=1, keepdims=True))
    softmax = exp / exp.sum(axis=1, keepdims=True)
    is_probability = np.all((rows >= 0) & (rows <= 1), axis=1) & (np.abs(rows.sum(axis=1) - 1) <= 1e-3)
    return np.where(is_probability[:, None], rows, softmax)


def expected_calibration_error(proba, labels, one_score, bins=15):
    """Top-label ECE in equal-width bins (lo, hi] (Guo et al. 2017), written apart from the engine."""
    top = np.argmax(proba, axis=1)
    if one_score:
        top = (proba[:, 1] >= 0.5).astype(int)
    confidence = proba[np.arange(len(top)), top]
    correct = (top == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # np.digitize(right=True): edges[i-1] < x <= edges[i] gives i; the bin is i - 1 (0 stays in the first).
    which = np.clip(np.digitize(confidence, edges, right=True) - 1, 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.sum() / len(labels) * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def per_class(request):
    """Per-class recall of both models (sklearn), Brier scores (sklearn) and ECE (numpy)."""
    from sklearn.metrics import brier_score_loss, recall_score

    answer = {}
    for name, case in request["perClass"].items():
        width = case["outputWidth"]
        class_count = max(2, width)
        labels = np.asarray([np.nan if y is None else y for y in case["labels"]], dtype=float)
        labelled = ~np.isnan(labels)
        y = labels[labelled].astype(int)
        teacher_classes = classes(case["teacherScores"], width, request["decisionThreshold"])[labelled]
        candidate_classes = classes(case["candidateScores"], width, request["decisionThreshold"])[labelled]
        everything = list(range(class_count))
        result = {
            "rows": np.bincount(y, minlength=class_count).tolist(),
            "teacherRecall": recall_score(y, teacher_classes, labels=everything, average=None, zero_division=0).tolist(),
            "candidateRecall": recall_score(y, candidate_classes, labels=everything, average=None, zero_division=0).tolist(),
        }
        for model in ("teacher", "candidate"):
            proba = probabilities(case[f"{model}Scores"], width)[labelled]
            if class_count == 2:
                brier = brier_score_loss(y, proba[:, 1], pos_label=1)
            else:
                brier = brier_score_loss(y, proba, labels=everything, scale_by_half=False)
            result[f"{model}Brier"] = float(brier)
            result[f"{model}Ece"] = expected_calibration_error(proba, y, width == 1)
        answer[name] = result
    return answer


def missing_values(request):
    """Per dataset: rows read, rows with any missing or invalid feature, and per feature the cells
    missing or invalid (numeric: not a finite number once coerced; categorical: null or empty),
    read with pandas; then missingValueIncrease and its Newcombe interval."""
    answer = {}
    for dataset, spec in request["missingValues"].items():
        path = spec["path"]
        frame = pd.read_json(path, lines=True) if path.endswith(".jsonl") else pd.read_csv(path, keep_default_na=False)
        masks = {}
        for feature in request["numeric"]:
            values = pd.to_numeric(frame[feature].replace("", np.nan), errors="coerce").astype(float)
            masks[feature] = ~np.isfinite(values.to_numpy())
        for feature in request["categorical"]:
            column = frame[feature]
            masks[feature] = (column.isna() | (column.astype(str) == "")).to_numpy()
        rejected = np.logical_or.reduce(list(masks.values()))
        answer[dataset] = {
            "rowsRead": int(len(frame)),
            "rowsRejected": int(rejected.sum()),
            "missingByFeature": {feature: int(mask.sum()) for feature, mask in masks.items()},
        }
    ref, cur = answer["reference"], answer["current"]
    increases = {
        f: cur["missingByFeature"][f] / cur["rowsRead"] - ref["missingByFeature"][f] / ref["rowsRead"]
        for f in sorted(cur["missingByFeature"])
    }
    worst = max(increases, key=lambda f: increases[f])
    answer["value"] = increases[worst]
    answer["worst"] = worst
    answer["interval"] = newcombe_independent(
        cur["missingByFeature"][worst], cur["rowsRead"], ref["missingByFeature"][worst], ref["rowsRead"],
        request["confidence"],
    )
    return answer


def mann_whitney(request):
    """scipy's Mann-Whitney U (method='auto', continuity correction) and the Hodges-Lehmann shift."""
    answer = []
    for case in request["mannWhitney"]:
        first = np.asarray(case["first"], dtype=float)
        second = np.asarray(case["second"], dtype=float)
        result = stats.mannwhitneyu(first, second, alternative=case["alternative"], method="auto")
        answer.append({
            "u": float(result.statistic),
            "pValue": float(result.pvalue),
            "shift": float(np.median(np.subtract.outer(first, second))),
        })
    return answer


def main():
    request = json.load(sys.stdin)
    # A request for one of these answers with it alone; any other is the whole-evaluation check below.
    for key, answer_to in (
        ("missingValues", missing_values),
        ("significance", significance),
        ("paired", paired),
        ("perClass", per_class),
        ("mannWhitney", mann_whitney),
    ):
        if key in request:
            json.dump(answer_to(request), sys.stdout)
            return
    confidence = request["confidence"]
    answer = {}

    answer["drift"] = {
        name: numeric_drift(
            spec["reference"], spec["current"], spec["edges"], request["psiBins"],
            request["psiEpsilon"], request["featureRelativeAccuracy"], confidence,
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
