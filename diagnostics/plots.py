"""Figures from precomputed tables (they never compute what a diagnostic computed).

Each function takes a table and returns a matplotlib figure; the caller saves it.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from inference.files import atomic_write  # noqa: E402

__all__ = ["GROUP_COLOURS", "causal_graph_figure", "collection_figure", "concepts_figure",
           "forest_figure",
           "group_colour", "headline_figure", "item_curves_figure", "ppc_figure", "rank_figure",
           "save_figure"]

# one colour per group of focal levels, the same in every figure and table of a report:
# the first group (the housing study's clustered forms) warm, the pooled one cool
GROUP_COLOURS = ("#c0580f", "#2f6b9a", "#5a8f29", "#7b4fa0")


def group_colour(group: str, groups: list[str]) -> str:
    """The colour of ``group`` among ``groups`` (ordered as in :data:`GROUP_COLOURS`)."""
    return GROUP_COLOURS[groups.index(group) % len(GROUP_COLOURS)] if group in groups \
        else "0.3"


def collection_figure(pc):
    """The matplotlib figure of an arviz-plots ``PlotCollection``."""
    for key in ("figure", "chart"):  # arviz-plots 1.x names it "figure" (earlier: "chart")
        if key in pc.viz:
            return pc.viz[key].item()
    return plt.gcf()


def save_figure(fig, path) -> None:
    """Save a figure as PNG atomically (a partial file never replaces a good one) and close it."""
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)


def concepts_figure(table: pd.DataFrame, *, names: Callable[[str], str] = str):
    """Per outcome: predicted event probability for the existing forms and each concept.

    ``names`` turns a focal level's label into its display name.
    """
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(len(models), 1, figsize=(8.5, 2.2 + 0.32 * len(table) /
                                                      max(len(models), 1) * len(models)),
                             squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        g = table[table["model"] == model].reset_index(drop=True)
        labels = [names(n) if k == "living form" else n for n, k in zip(g["name"],
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


def forest_figure(effects: pd.DataFrame, *, scale: str = "latent",
                  names: Callable[[str], str] = str, pooled: tuple[str, ...] = (),
                  groups: dict[str, str] | None = None):
    """Forest plot of focal contrasts vs each model's reference (one panel per model).

    Contrasts are the ``"A - B"`` rows of the effects table, except those against a pooled
    group (``"A - non-clustered"``); ``names`` turns a level label into its display name;
    ``groups`` (level -> group) colours each level by its group as the headline figure
    does. A model whose convergence failed has a red title and hollow markers.
    """
    order = list(dict.fromkeys((groups or {}).values()))
    rows = effects[(effects["scale"] == scale) & effects["contrast"].str.contains(" - ")]
    # not vs a pooled group, however weighted ("A - non-clustered [tenant-weighted]")
    rows = rows[~rows["contrast"].str.split(" - ", regex=False).str[-1]
                .str.split(" [", regex=False).str[0].isin(pooled)]
    if "estimand" in rows and scale != "latent":
        rows = rows[rows["estimand"] == "new_complex"]
    if scale != "latent":
        from diagnostics.effects import headline_rows
        rows = headline_rows(rows)
    models = list(dict.fromkeys(rows["model"]))
    ncol = 3
    nrow = max(1, -(-len(models) // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.3 * nrow), squeeze=False)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    for ax, model in zip(axes.ravel(), models, strict=False):
        g = rows[rows["model"] == model].reset_index(drop=True)
        y = list(range(len(g)))[::-1]
        failed = "verdict" in g and (g["verdict"] == "fail").any()
        color = "tab:red" if failed else "0.15"
        for yi, r in zip(y, g.itertuples(), strict=True):
            c = group_colour((groups or {}).get(r.contrast.split(" - ")[0], ""), order) \
                if groups else "tab:blue"
            ax.errorbar([r.mean], [yi], xerr=[[r.mean - r.q05], [r.q95 - r.mean]], fmt="o",
                        color=c, mfc="white" if failed else c, capsize=2, ms=4)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(y, [names(c.split(" - ")[0]) for c in g["contrast"]], fontsize=7)
        unit = "log-odds" if scale == "latent" else "percentage points"
        title = f"{model}{' (FAILED convergence)' if failed else ''}"
        ax.set_title(title, fontsize=9, color=color)
        reference = g["contrast"].iloc[0].split(" - ")[-1]
        ax.set_xlabel(f"vs {names(reference)} ({unit})", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def ppc_figure(ppc: pd.DataFrame, model: str):
    """Observed share (dot) vs replicated 90% interval (bar) of the top statistic per group."""
    g = ppc[(ppc["model"] == model)]
    if "check" in g:  # the shares overall, per level and by group size
        g = g[g["check"] == "shares"]
    stat = g["statistic"].iloc[-1] if not g["statistic"].str.startswith("share").any() else \
        sorted(s for s in g["statistic"].unique() if s.startswith("share"))[-1]
    g = g[g["statistic"] == stat].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(g) + 1.0))
    y = list(range(len(g)))[::-1]
    ax.hlines(y, g["replicated_q05"], g["replicated_q95"], color="0.6", lw=4,
              label="replicated (90%)")
    colors = ["tab:red" if v == "misfit" else "black" for v in g["verdict"]]
    ax.scatter(g["observed"], y, color=colors, zorder=3, s=14, label="observed")
    labels = list(g["group"])
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_title(f"{model}: posterior predictive check of '{stat}' (red = misfit)", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def item_curves_figure(theta: np.ndarray, mean: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray, *, items: list[str], categories: list[str],
                       title: str = "", at_least: tuple | None = None):
    """Item characteristic curves: ``P(answer = k | latent)`` per item (one panel each),
    posterior mean (line) and interval (band) per category.

    ``theta`` ``(T,)`` the latent grid; ``mean``, ``lower``, ``upper`` ``(J, T, K)``
    (:func:`diagnostics.crossval.item_curves`). A steeper curve: a more discriminating item.
    ``at_least``: ``(mean, lower, upper)`` of the boundary curves ``P(answer >= k | latent)``,
    ``(J, T, K-1)`` each (``item_curves(..., at_least=True)``), drawn as a second row.
    """
    n = len(items)
    rows = 1 if at_least is None else 2
    fig, axes = plt.subplots(rows, n, figsize=(2.3 * n + 0.6, 2.6 * rows), sharey=True,
                             sharex=True, squeeze=False)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(categories)))
    panels = [(mean, lower, upper, categories, colours)]
    if at_least is not None:
        panels.append((*at_least, [f">= {c}" for c in categories[1:]], colours[1:]))
    for r, (m, lo, hi, labels, cols) in enumerate(panels):
        for j, ax in enumerate(axes[r]):
            for k, cat in enumerate(labels):
                ax.fill_between(theta, lo[j, :, k], hi[j, :, k], color=cols[k],
                                alpha=0.25, lw=0)
                ax.plot(theta, m[j, :, k], color=cols[k], lw=1.4, label=cat)
            ax.set_title(items[j], fontsize=8)
            ax.tick_params(labelsize=7)
        axes[r, 0].set_ylabel("P(answer)" if r == 0 else "P(answer >= k)", fontsize=7)
        axes[r, -1].legend(fontsize=6, title="answer", title_fontsize=6, loc="center right")
    for ax in axes[-1]:
        ax.set_xlabel("latent", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def rank_figure(tree):
    """arviz-plots rank-ECDF plot of the group SDs and living-form contrasts of one fit."""
    import arviz_plots as azp

    names = [v for v in tree["posterior"].data_vars
             if v.startswith("sd_") or v.endswith("_contrast")]
    pc = azp.plot_rank(tree, var_names=names, backend="matplotlib")
    fig = collection_figure(pc)
    fig.set_size_inches(11, 3.0 * (1 + (len(names) - 1) // 4))
    fig.tight_layout()
    return fig


def headline_figure(headline: pd.DataFrame, *, groups: dict[str, str],
                    names: Callable[[str], str] = str, width: float = 8.6):
    """Dot-and-interval matrix: one panel per focal level (columns, grouped), one row per
    outcome, the contrast vs the reference with its 90% interval.

    ``headline``: rows of :func:`diagnostics.headline.headline_effects`; ``groups`` maps a
    level to its group (panels of one group side by side, coloured alike). Outcomes in
    other units than percentage points get their own block of rows with its own axis.
    A model whose convergence failed is drawn hollow and its label marked.
    """
    order = list(dict.fromkeys(groups.values()))
    levels = sorted(dict.fromkeys(headline["level"]),
                    key=lambda lv: order.index(groups.get(lv, order[-1])))
    units = list(dict.fromkeys(headline["unit"]))
    blocks = [(u, list(dict.fromkeys(headline.loc[headline["unit"] == u, "outcome"])))
              for u in units]
    heights = [len(b) + 1.2 for _, b in blocks]
    fig, axes = plt.subplots(len(blocks), len(levels), squeeze=False, sharey="row",
                             figsize=(width, 0.27 * sum(heights) + 0.9),
                             gridspec_kw={"height_ratios": heights, "wspace": 0.08,
                                          "hspace": 0.55})
    failed = set(headline.loc[headline["verdict"] == "fail", "outcome"]) \
        if "verdict" in headline else set()
    for bi, (unit, outcomes) in enumerate(blocks):
        block = headline[headline["unit"] == unit]
        lo = min(block["q05"].min(), 0.0)
        hi = max(block["q95"].max(), 0.0)
        pad = 0.06 * (hi - lo or 1.0)
        for li, level in enumerate(levels):
            ax = axes[bi, li]
            colour = group_colour(groups.get(level, ""), order)
            g = block[block["level"] == level].set_index("outcome").reindex(outcomes)
            y = np.arange(len(outcomes))[::-1]
            ok = g["mean"].notna().to_numpy()
            bad = np.array([o in failed for o in outcomes])
            for mask, face in ((ok & ~bad, colour), (ok & bad, "white")):
                if mask.any():
                    ax.errorbar(g["mean"][mask], y[mask],
                                xerr=[(g["mean"] - g["q05"])[mask], (g["q95"] - g["mean"])[mask]],
                                fmt="o", ms=4, color=colour, mfc=face, capsize=0, lw=1.4)
            ax.axvline(0, color="0.55", lw=0.8, zorder=0)
            ax.set_xlim(lo - pad, hi + pad)
            ax.grid(axis="x", alpha=0.25)
            ax.tick_params(axis="both", labelsize=7, length=2)
            if bi == 0:
                ax.set_title(names(level), fontsize=8, color=colour, fontweight="bold")
            if li == 0:
                ax.set_yticks(y, [f"{o} (not converged)" if o in failed else o
                                  for o in outcomes], fontsize=7.5)
            if li == len(levels) // 2:
                reference = block["contrast"].iloc[0].split(" - ")[-1]
                ax.set_xlabel(f"vs {names(reference)} ({unit}, 90% interval)", fontsize=7.5)
    # group labels above their panels
    for group in order:
        members = [i for i, lv in enumerate(levels) if groups.get(lv) == group]
        if not members:
            continue
        left = axes[0, members[0]].get_position().x0
        right = axes[0, members[-1]].get_position().x1
        fig.text((left + right) / 2, axes[0, 0].get_position().y1 + 0.09, group,
                 ha="center", va="bottom", fontsize=9, color=group_colour(group, order),
                 fontweight="bold")
    return fig


def causal_graph_figure(graph):
    """The causal graph of a study (:class:`models.causal.CausalGraph`) as a layered
    picture: confounders left, two-sided covariates next, the exposure in the middle,
    mediators and form features right of it, the outcomes last. Solid arrows: causes;
    dashed: a two-sided role (both directions); red: an explicit path between covariates.
    Confounders and two-sided covariates also point to the outcomes (not drawn)."""
    from models.causal import CONFOUNDER, FORM_FEATURE, MEDIATOR, TWO_SIDED

    columns = [(CONFOUNDER, "confounders (before the move)"),
               (TWO_SIDED, "two-sided"), (None, graph.exposure),
               (MEDIATOR, "possible mediators"), (FORM_FEATURE, "form features")]
    pos, height = {}, 1
    for x, (role, _) in enumerate(columns):
        names = [graph.exposure] if role is None else \
            [n.name for n in graph.nodes if n.role == role]
        height = max(height, len(names))
        for k, name in enumerate(names):
            pos[name] = (x, -k + (len(names) - 1) / 2)
    out_x = len(columns)
    pos["outcomes"] = (out_x, 0.0)
    fig, ax = plt.subplots(figsize=(11, max(3.5, 0.42 * height + 1.2)))
    arrow = dict(arrowstyle="-|>", lw=0.8, shrinkA=14, shrinkB=14)
    for node in graph.nodes:
        if node.name not in pos:
            continue
        if node.role in (CONFOUNDER, TWO_SIDED):
            ax.annotate("", pos[graph.exposure], pos[node.name],
                        arrowprops=arrow | {"color": "0.55",
                                            "ls": "--" if node.role == TWO_SIDED else "-"})
        else:
            ax.annotate("", pos[node.name], pos[graph.exposure],
                        arrowprops=arrow | {"color": "0.55"})
    for cause, effect, _ in graph.edges:
        if cause in pos and effect in pos:
            ax.annotate("", pos[effect], pos[cause], arrowprops=arrow | {
                "color": "#b22222", "connectionstyle": "arc3,rad=0.25"})
    for node in graph.nodes:  # what the form may change, on to the outcomes
        if node.role in (MEDIATOR, FORM_FEATURE) and node.name in pos:
            ax.annotate("", pos["outcomes"], pos[node.name],
                        arrowprops=arrow | {"color": "0.75"})
    ax.annotate("", pos["outcomes"], pos[graph.exposure],
                arrowprops=arrow | {"color": "black", "lw": 2.0,
                                    "connectionstyle": "arc3,rad=-0.35"})
    for name, (x, y) in pos.items():
        node = next((n for n in graph.nodes if n.name == name), None)
        style = "round,pad=0.3"
        face = "#fde8d7" if name == graph.exposure else \
            ("#e8eef6" if name == "outcomes" else "white")
        label = name + (" (complex)" if node is not None and node.level == "group" else "")
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle=style, fc=face, ec="0.4", lw=0.7))
    for x, (_, title) in enumerate(columns):
        ax.text(x, height / 2 + 0.6, title, ha="center", fontsize=9, weight="bold")
    ax.text(out_x, height / 2 + 0.6, "outcomes", ha="center", fontsize=9, weight="bold")
    ax.set_xlim(-0.7, out_x + 0.6)
    ax.set_ylim(-height / 2 - 0.7, height / 2 + 1.0)
    ax.axis("off")
    fig.tight_layout()
    return fig


def tipping_figure(table: pd.DataFrame, *, max_panels: int = 12,
                   xlabel: str = "delta: non-respondents' departure in the contrast's first "
                                 "form (log-odds)"):
    """A tipping-point table (:func:`diagnostics.tipping.tipping_points`) drawn: per model,
    each contrast's mean and 90% interval over delta, a line at no difference; where an
    interval first reaches it is where that conclusion stops holding."""
    models = list(dict.fromkeys(table["model"]))[:max_panels]
    cols = min(3, len(models))
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(6.5, 4.2 * cols), 3.0 * rows + 1.0),
                             squeeze=False, sharex=True)
    for ax, model in zip(axes.flat, models, strict=False):
        part = table[table["model"] == model]
        for k, (contrast, line) in enumerate(part.groupby("contrast", sort=False)):
            colour = f"C{k % 10}"
            ax.plot(line["delta"], line["mean"], color=colour, lw=1.2, label=contrast)
            ax.fill_between(line["delta"], line["q05"], line["q95"], color=colour, alpha=0.10)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.6, ls=":")
        ax.set_title(f"{model}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.supxlabel(xlabel, fontsize=9, y=0.07)
    fig.supylabel("contrast (pp)", fontsize=9)
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    return fig
