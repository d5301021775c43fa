"""The MiniGrid study's figures: the thesis's Figures 3.6 and 3.8 (and their appendix twins)
redrawn, one panel per (test room, training room) cell."""

from __future__ import annotations

from typing import Any

import pandas as pd

from simfunc import figures
from simfunc.studies.minigrid import prose
from simfunc.studies.minigrid.population import PAIR_CATEGORIES, usable
from simfunc.studies.minigrid.settings import Settings

__all__ = ["grid_figure"]


def grid_figure(rows: pd.DataFrame, headline: pd.Series, variant: str, output: str,
                settings: Settings, path: Any) -> Any:
    """Rows test room, columns training room, CKA against the output measure; the headline's
    pairs (``headline``, a mask over ``rows``' index) coloured by quality class (the line is
    fitted to them), the other recorded pairs grey. Returns the saved file's path."""
    tests, trains = settings.test_sizes, settings.train_sizes
    fig, axes = figures.new_figure(len(tests), len(trains),
                                   panel_size=(3.3, max(2.7, 4.5 / len(tests))))
    fig.set_figwidth(fig.get_figwidth() + 2.2)  # the legend's column
    colours = prose.PAIR_COLOURS
    for r, test in enumerate(tests):
        for c, train in enumerate(trains):
            ax = axes[r, c]
            cell = usable(rows[(rows["train_size"] == train) & (rows["test_size"] == test)],
                          output)
            chosen = headline.reindex(cell.index, fill_value=False).to_numpy()
            title = prose.panel_title(train, test)
            if cell.empty:
                ax.set_title(f"{title}\nno comparable pairs")
                continue
            groups = [(category, chosen & (cell["category"] == category).to_numpy(),
                       colours[category]) for category in PAIR_CATEGORIES]
            groups.append((prose.OUTSIDE, ~chosen, colours[prose.OUTSIDE]))
            figures.relation_panel(ax, cell["linear_cka"], cell[output], groups=groups,
                                   fit_mask=chosen if chosen.sum() >= 3 else None,
                                   title=title, point_size=14)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=colours[name], label=name)
               for name in (*PAIR_CATEGORIES, prose.OUTSIDE)]
    handles.append(Line2D([], [], color=figures.PALETTE["black"], label=prose.FIT_LABEL))
    fig.legend(handles=handles, loc="outside right center", title="pair of agents")
    fig.supxlabel(figures.AXIS_LABELS["linear_cka"])
    fig.supylabel(figures.AXIS_LABELS[output])
    fig.suptitle(prose.figure_title(variant, output))
    return figures.save_figure(fig, path)
