"""Figures from precomputed tables (they never compute what a diagnostic computed).

Each function takes a table and returns a matplotlib figure; the caller saves it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from data import codebook as cb  # noqa: E402

__all__ = ["concepts_figure"]


def _form_name(code: str) -> str:
    form = cb.FORM_BY_CODE.get(code)
    return f"{code} {form.en}" if form else code


def concepts_figure(table: pd.DataFrame):
    """Per outcome: predicted event probability for the existing forms and each concept."""
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(len(models), 1, figsize=(8.5, 2.2 + 0.32 * len(table) /
                                                      max(len(models), 1) * len(models)),
                             squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        g = table[table["model"] == model].reset_index(drop=True)
        labels = [_form_name(n) if k == "living form" else n for n, k in zip(g["name"],
                                                                                g["kind"],
                                                                                strict=True)]
        y = range(len(g))[::-1]
        colors = ["0.45" if k == "living form" else "tab:orange" for k in g["kind"]]
        for yi, r, c in zip(y, g.itertuples(), colors, strict=True):
            ax.errorbar(r.mean, yi, xerr=[[r.mean - r.q05], [r.q95 - r.mean]], fmt="o",
                        color=c, capsize=2)
        ax.set_yticks(list(y), labels, fontsize=7)
        ax.set_title(f"{g['outcome'].iloc[0]}: {g['event'].iloc[0]} (percent, 90% interval)",
                     fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
