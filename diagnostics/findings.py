"""Check the report's conclusions one by one against a fit (pure functions).

For each claim in :data:`data.findings.FINDINGS` the posterior probability that it holds
(the parameter has the claimed sign); verdict ``supported`` (>= 0.95), ``not supported``
(<= 0.05, i.e. the data point the other way), otherwise ``uncertain``. On real data this is
the replication table; on simulated data it shows whether the design can see each claim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data.findings import FINDINGS, Finding

__all__ = ["SUPPORT", "check_findings", "claim_draws"]

SUPPORT = 0.95


def claim_draws(tree: xr.DataTree, finding: Finding, *, focal: str = "living_form",
                reference: str = "HZ") -> np.ndarray | None:
    """Posterior draws of the claim's parameter, or None if the fit lacks it."""
    post = tree["posterior"]
    if finding.kind == "beta":
        if "beta" not in post or finding.target not in post["term"].values:
            return None
        return post["beta"].sel(term=finding.target).values.ravel()
    a, b = (s.strip() for s in finding.target.split(" - "))
    if f"{focal}_effect" in post:
        eff = post[f"{focal}_effect"]
        if a not in eff[focal].values or b not in eff[focal].values:
            return None
        return (eff.sel({focal: a}) - eff.sel({focal: b})).values.ravel()
    if f"{focal}_contrast" in post:
        con = post[f"{focal}_contrast"]

        def vs_ref(x):
            if x == reference:
                return 0.0
            label = f"{x} - {reference}"
            return con.sel(contrast=label).values.ravel() if label in con["contrast"].values \
                else None

        va, vb = vs_ref(a), vs_ref(b)
        if va is None or vb is None:
            return None
        return np.asarray(va - vb, dtype=float).ravel()
    return None


def check_findings(fits: dict[str, xr.DataTree], *, findings=FINDINGS,
                   model_for: dict[str, str] | None = None) -> pd.DataFrame:
    """The findings table over fitted models keyed by outcome name."""
    rows = []
    for f in findings:
        name = (model_for or {}).get(f.outcome, f.outcome)
        tree = fits.get(name)
        draws = None if tree is None else claim_draws(tree, f)
        if draws is None:
            rows.append({"outcome": f.outcome, "parameter": f.target, "kind": f.kind,
                         "expected": "+" if f.direction > 0 else "-", "claim": f.claim,
                         "posterior_mean": np.nan, "p_claim": np.nan,
                         "verdict": "not estimable"})
            continue
        p = float((np.sign(draws) == f.direction).mean())
        verdict = "supported" if p >= SUPPORT else (
            "not supported" if p <= 1 - SUPPORT else "uncertain")
        rows.append({"outcome": f.outcome, "parameter": f.target, "kind": f.kind,
                     "expected": "+" if f.direction > 0 else "-", "claim": f.claim,
                     "posterior_mean": float(draws.mean()), "p_claim": p, "verdict": verdict})
    return pd.DataFrame(rows)
