"""Plotting helpers shared by the studies: one look for every figure simfunc draws.

Figures are drawn with matplotlib's Agg backend (no display needed) and saved atomically as
PNG. Rendering is deterministic (no timestamps in the metadata), so rebuilding a report from the
same database gives byte-identical images.

The palette is colour-blind safe (Okabe & Ito 2008). Every relation panel states what it shows in
its title — the least-squares slope and Spearman's rho — and its axis labels say which direction
means "more similar", so a reader never has to guess.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats as _scipy_stats  # noqa: E402

from simfunc.io.atomic import atomic_write_bytes  # noqa: E402

__all__ = [
    "PALETTE",
    "AXIS_LABELS",
    "new_figure",
    "relation_panel",
    "heatmap",
    "save_figure",
    "series_colors",
]

# Okabe-Ito colour-blind safe palette.
PALETTE = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#999999",
}

# Axis labels that say which direction means "more similar".
AXIS_LABELS = {
    "linear_cka": "linear CKA (higher = more similar)",
    "debiased_cka": "debiased linear CKA (higher = more similar)",
    "rbf_cka": "RBF CKA (higher = more similar)",
    "cca": "R²_CCA (higher = more similar)",
    "mean_cca": "mean CCA (higher = more similar)",
    "svcca": "SVCCA (higher = more similar)",
    "pwcca": "PWCCA (higher = more similar)",
    "procrustes": "Procrustes distance (lower = more similar)",
    "angular_shape": "angular shape distance (lower = more similar)",
    "mutual_knn": "mutual k-NN (higher = more similar)",
    "rsa": "RSA (higher = more similar)",
    "jsd": "JSD of outputs (lower = more similar)",
    "kl": "KL of outputs (lower = more similar)",
    "spearman": "rank coefficient (higher = more similar)",
    "disagreement": "disagreement (lower = more similar)",
}

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
}


def series_colors(n: int) -> list[str]:
    """n distinct colours: the palette first, then a perceptually ordered colormap."""
    base = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "sky", "purple", "black", "grey")]
    if n <= len(base):
        return base[:n]
    cmap = plt.get_cmap("viridis")
    return [matplotlib.colors.to_hex(cmap(i / max(n - 1, 1))) for i in range(n)]


def new_figure(nrows: int = 1, ncols: int = 1, panel_size: tuple[float, float] = (4.2, 3.4),
               squeeze: bool = False, **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure with an (nrows, ncols) grid of axes in simfunc's style."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
            squeeze=squeeze, layout="constrained", **kwargs,
        )
    for ax in np.atleast_1d(axes).ravel():
        _style(ax)
    return fig, axes


def _style(ax: Axes) -> None:
    for key, value in (("top", False), ("right", False)):
        ax.spines[key].set_visible(value)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.set_axisbelow(True)


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares slope and intercept, or None where a line is undefined (x constant)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def spearman_or_none(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho, or None where it is undefined (fewer than 3 points or a constant side)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(_scipy_stats.spearmanr(x, y).statistic)


def relation_panel(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float],
    *,
    groups: Iterable[tuple[str, np.ndarray, str]] | None = None,
    fit_mask: np.ndarray | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    point_size: float = 22,
) -> dict[str, float | None]:
    """Scatter y against x, coloured by group, with the least-squares line over ``fit_mask``.

    ``groups`` is a list of (label, boolean mask, colour). The title gets the slope and
    Spearman's rho of the fitted points appended; both are also returned.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if groups is None:
        groups = [("pairs", np.ones(len(x), dtype=bool), PALETTE["blue"])]
    for label, mask, color in groups:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            ax.scatter(x[mask], y[mask], s=point_size, color=color, alpha=0.8,
                       edgecolor="white", linewidth=0.5, label=f"{label} (n={int(mask.sum())})")
    fit_mask = np.ones(len(x), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    line = fit_line(x[fit_mask], y[fit_mask])
    rho = spearman_or_none(x[fit_mask], y[fit_mask])
    if line is not None:
        xs = np.linspace(x[fit_mask].min(), x[fit_mask].max(), 50)
        ax.plot(xs, line[0] * xs + line[1], color=PALETTE["black"], linewidth=1.2, alpha=0.8)
    stats_text = (
        f"slope {line[0]:.3g}" if line is not None else "slope n/a"
    ) + ", " + (f"ρ = {rho:.3f}" if rho is not None else "ρ n/a")
    ax.set_title(f"{title}\n{stats_text}" if title else stats_text)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(x):
        ax.legend(loc="best")
    return {"slope": None if line is None else line[0], "rho": rho}


def heatmap(
    ax: Axes,
    matrix: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "viridis",
    annotate: bool = True,
    fmt: str = "{:.2f}",
    title: str = "",
    colorbar_label: str = "",
    labels: np.ndarray | None = None,
) -> None:
    """An annotated heatmap; annotation colour flips for legibility on dark cells.

    ``labels``: text per cell instead of ``fmt`` of its value (a cell whose value is NaN shows
    its label too, e.g. why it is undefined); an empty string shows nothing."""
    matrix = np.asarray(matrix, dtype=float)
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, aspect="equal")
    ax.grid(False)
    ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=7.5)
    ax.set_yticks(range(len(row_labels)), labels=row_labels, fontsize=7.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate and matrix.size <= 400:
        low = np.nanmin(matrix) if vmin is None else vmin
        high = np.nanmax(matrix) if vmax is None else vmax
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(matrix):
            text = fmt.format(value) if labels is None else str(labels[i, j])
            if text and (np.isfinite(value) or labels is not None):
                dark = np.isfinite(value) and value < middle
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                        color="white" if dark else "black")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if colorbar_label:
        bar.set_label(colorbar_label)
    if title:
        ax.set_title(title)


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG atomically (temporary file, then rename) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight",
                pad_inches=0.08)
    plt.close(fig)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())
