"""``sketchtest check --demo``: what is planted in the demo embeddings, and what finds it.

The embeddings (``sketchtest/data/demo_embeddings.npy``, made by
``sketchtest/data/make_demo.py``) are 2048 samples of dimension 16 from a
latent N(0, I) with three defects, rotated at random so that no single
coordinate shows them. The report lists each plant beside the component of
``normality_test`` that should find it, with that component's p-value.
"""

from __future__ import annotations

__all__ = ["DEMO_SOURCE", "PLANTS", "demo_findings"]

DEMO_SOURCE = "demo embeddings (shipped with sketchtest)"
#: (what is planted, the component of normality_test that finds it, what it finds in words).
PLANTS = (
    ("two clusters along one direction (bimodal: +-1.1, noise 0.45)", "principal_axes",
     "clusters along a principal axis"),
    ("one skewed direction (exponential, centred)", "skewness", "skewness"),
    ("two directions of variance 0.25 (partly collapsed)", "covariance",
     "anisotropy: two small covariance eigenvalues"),
)


def demo_findings(report: dict) -> list:
    """For each plant: what it is, the component that finds it, its p-value, and whether it did.

    Examples
    --------
    >>> report = {"alpha": 0.05, "tests": [{"test": "normality_test", "components": [
    ...     {"component": "skewness", "pvalue": 1e-20}]}]}
    >>> [(item["found_by"], item["found"]) for item in demo_findings(report)]
    [('principal_axes', None), ('skewness', True), ('covariance', None)]
    """
    tests = [test for test in report["tests"] if test["test"] == "normality_test"]
    components = {part["component"]: part for part in (tests[0].get("components", []) if tests else [])}
    findings = []
    for planted, component, words in PLANTS:
        part = components.get(component, {})
        pvalue = part.get("pvalue")
        item = {"planted": planted, "found_by": component, "finds": words, "pvalue": pvalue,
                "found": None if pvalue is None else pvalue < report["alpha"]}
        if "most_significant_words" in part:
            item["where"] = part["most_significant_words"]
        findings.append(item)
    return findings
