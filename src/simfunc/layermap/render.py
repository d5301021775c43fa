"""The files of a layer map: heatmap PNG, CSV, a self-contained HTML page, and its settings.

This module sits at the report level (it draws with :mod:`simfunc.figures` and writes with the
atomic writers); the command line and users call it, the modules of the map never do.

``write_map(frame, out_dir, title=..., label_a=..., label_b=...)`` writes

* ``layer_map.png`` -- the heatmap, model A's layers as rows from the bottom (the input side)
  up, model B's as columns from left to right, as in Kornblith et al. (2019); cells annotated
  up to 20 × 20; the figure grows with the layer count so names stay readable;
* ``layer_map.csv`` -- the values, A's layers as rows, B's as columns;
* ``layer_map.html`` -- the picture (embedded), the table and how it was made;
* ``layer_map.json`` -- how it was made (``frame.attrs``) and the values.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simfunc.figures import AXIS_LABELS, new_figure, save_figure
from simfunc.io import atomic_write_json, atomic_write_text

__all__ = ["draw_heatmap", "write_map"]

FILES = ("layer_map.png", "layer_map.csv", "layer_map.html", "layer_map.json")
_ANNOTATE_CELLS = 400


def _colour_range(frame: pd.DataFrame) -> tuple[float, float]:
    bounds = frame.attrs.get("bounds") or [float(np.min(frame.values)), float(np.max(frame.values))]
    low, high = float(bounds[0]), float(bounds[1])
    if frame.attrs.get("measure") in ("linear_cka", "debiased_cka") or (low, high) == (-1.0, 1.0):
        low = 0.0  # CKA: 0 = unrelated; the few slightly negative debiased values clip to it
    if not np.isfinite(high) or high <= low:
        high = max(float(np.max(frame.values)), low + 1e-9)
    return low, high


def _colourbar_label(frame: pd.DataFrame) -> str:
    measure = frame.attrs.get("measure", "value")
    if measure == "linear_cka" and frame.attrs.get("debiased"):
        measure = "debiased_cka"
    text = AXIS_LABELS.get(measure, measure)
    estimator = frame.attrs.get("estimator")
    if estimator == "minibatch":
        text += ", minibatch"
    return text


def draw_heatmap(frame: pd.DataFrame, path: str | Path, *, title: str = "",
                 label_a: str = "model A", label_b: str = "model B") -> Path:
    """Draw the map as a PNG (atomically) and return its path."""
    rows, columns = frame.shape
    width = min(22.0, 2.6 + 0.30 * columns + 0.05 * max(map(len, map(str, frame.index))))
    height = min(22.0, 2.0 + 0.30 * rows + 0.05 * max(map(len, map(str, frame.columns))))
    fig, axes = new_figure(panel_size=(width, height))
    ax = axes[0, 0]
    low, high = _colour_range(frame)
    image = ax.imshow(frame.values, origin="lower", vmin=low, vmax=high, cmap="magma",
                      aspect="auto", interpolation="nearest")
    ax.grid(False)
    size = 7.5 if max(rows, columns) <= 30 else 6.0
    ax.set_xticks(range(columns), labels=[str(c) for c in frame.columns], rotation=60,
                  ha="right", rotation_mode="anchor", fontsize=size)
    ax.set_yticks(range(rows), labels=[str(r) for r in frame.index], fontsize=size)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if frame.size <= _ANNOTATE_CELLS:
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(frame.values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if value < middle else "black")
    ax.set_ylabel(f"{label_a} (layers, input → output)")
    ax.set_xlabel(f"{label_b} (layers, input → output)")
    bar = fig.colorbar(image, ax=ax, shrink=0.85, pad=0.02)
    bar.set_label(_colourbar_label(frame))
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def _settings(frame: pd.DataFrame, extra: dict[str, Any] | None) -> dict[str, Any]:
    settings = {key: value for key, value in frame.attrs.items()
                if key not in ("widths_a", "widths_b")}
    settings.update(extra or {})
    return settings


def _html_page(frame: pd.DataFrame, png: bytes, title: str, settings: dict[str, Any],
               label_a: str, label_b: str) -> str:
    low, high = _colour_range(frame)
    rows = []
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows.append(f"<tr><th>{html.escape(label_a)} \\ {html.escape(label_b)}</th>{header}</tr>")
    for name, values in zip(frame.index, frame.values):
        cells = []
        for value in values:
            share = 0.0 if high == low else float(np.clip((value - low) / (high - low), 0, 1))
            shade = int(255 - 150 * share)
            cells.append(f'<td style="background:rgb({shade},{shade},255)">{value:.3f}</td>')
        rows.append(f"<tr><th>{html.escape(str(name))}</th>{''.join(cells)}</tr>")
    widths_a = frame.attrs.get("widths_a", {})
    widths_b = frame.attrs.get("widths_b", {})
    width_rows = "".join(
        f"<tr><td>{html.escape(side)}</td><td>{html.escape(str(name))}</td><td>{width}</td></tr>"
        for side, widths in ((label_a, widths_a), (label_b, widths_b))
        for name, width in widths.items()
    )
    setting_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in settings.items()
    )
    image = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
max-width:1180px;margin:2em auto;padding:0 1.2em;color:#1d1d1f;line-height:1.5}}
h1{{font-size:1.6em}}h2{{border-bottom:2px solid #0072B2;padding-bottom:.2em}}
table{{border-collapse:collapse;font-size:.8em;margin:1em 0}}
td,th{{border:1px solid #ddd;padding:.2em .45em;text-align:right}}
th{{background:#f5f5f7;text-align:left}} img{{max-width:100%}}
.scroll{{overflow-x:auto}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Rows: the layers of {html.escape(label_a)}; columns: the layers of {html.escape(label_b)}.
{html.escape(_colourbar_label(frame))}.</p>
<img alt="layer map heatmap" src="data:image/png;base64,{image}">
<h2>Values</h2><div class="scroll"><table>{''.join(rows)}</table></div>
<h2>How it was made</h2><table>{setting_rows}</table>
<h2>Layer widths</h2><table><tr><th>model</th><th>layer</th><th>features</th></tr>{width_rows}</table>
</body></html>
"""


def write_map(frame: pd.DataFrame, out_dir: str | Path, *, title: str = "Layer map",
              label_a: str = "model A", label_b: str = "model B",
              extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the PNG, CSV, HTML and JSON of a map into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in FILES}
    draw_heatmap(frame, paths["layer_map.png"], title=title, label_a=label_a, label_b=label_b)
    atomic_write_text(paths["layer_map.csv"], frame.to_csv(float_format="%.6f"))
    settings = _settings(frame, extra)
    png = paths["layer_map.png"].read_bytes()
    atomic_write_text(paths["layer_map.html"],
                      _html_page(frame, png, title, settings, label_a, label_b))
    atomic_write_json(paths["layer_map.json"], {
        "settings": json.loads(json.dumps(settings, default=str)),
        "widths_a": frame.attrs.get("widths_a", {}),
        "widths_b": frame.attrs.get("widths_b", {}),
        "layers_a": [str(n) for n in frame.index],
        "layers_b": [str(n) for n in frame.columns],
        "values": np.asarray(frame.values, dtype=float).tolist(),
    })
    return paths
