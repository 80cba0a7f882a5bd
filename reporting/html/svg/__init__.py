"""Small inline-SVG charts for report.html: no script, no external resource, text escaped.

Charts are drawn in a fixed ``viewBox`` and scale with the page through CSS (``width: 100%``).
Every chart is ``role="img"`` with a ``<title>`` (its accessible name); lines also differ by dash
pattern and fills by lightness, so a chart still reads printed in grey.

- :mod:`.marks`: the marks every chart is drawn with (frame, grid, tick labels, lines, dots,
  legend);
- :mod:`.axes`: axes and their ticks (round steps, clock times, the nines scale);
- :mod:`.numeric`: :func:`plot`, lines and stacked columns over numeric axes;
- :mod:`.linechart`: :func:`line_chart`, lines over labelled x positions with value labels;
- :mod:`.bars`: a bar split by share, grouped bars.
"""

from __future__ import annotations

from stagecheck.reporting.html.svg.axes import (
    Axis,
    clock,
    linear_axis,
    nice_range,
    nice_ticks,
    nines,
    nines_label,
    time_ticks,
)
from stagecheck.reporting.html.svg.bars import bar_groups, stacked_bar
from stagecheck.reporting.html.svg.linechart import Series, line_chart
from stagecheck.reporting.html.svg.numeric import Columns, Layer, Line, Marker, plot

__all__ = [
    "Series",
    "nice_ticks",
    "line_chart",
    "stacked_bar",
    "Axis",
    "Line",
    "Layer",
    "Columns",
    "Marker",
    "nice_range",
    "linear_axis",
    "time_ticks",
    "clock",
    "nines",
    "nines_label",
    "plot",
    "bar_groups",
]
