"""The self-assessment profile as a radar chart (PNG), drawn with matplotlib's headless Agg backend.

Called off the event loop (the adapters run an attachment's ``render`` in a thread) and after the
transaction that stored the ratings has committed.

Drawing a chart from scratch is mostly setting up the polar axes and rendering their text (~100-200 ms);
the data is two or three lines. So a figure is built once per layout (the areas' labels, the legend,
the series' names and styles: a few frameworks, a few combinations) and kept, with everything but the
series rendered once; a chart then draws only its series' lines and fills between those pre-rendered
layers, in the order a full draw would (matplotlib's blitting, keeping the z-order: fills under the
grid and tick labels, lines over them, the outer circle and legend on top). tests/test_chart.py checks
the result against the full draw (tests/chart_baseline.py) pixel by pixel."""

from __future__ import annotations

import math
import struct
import textwrap
import threading
import zlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon
    from matplotlib.projections.polar import PolarAxes

Series = tuple[str, list[float | None], str, str]  # (name, score per area, colour, line style)
SELF_COLOUR, OTHERS_COLOUR = "#005eb8", "#ed8b00"  # NHS blue, NHS warm yellow

Layout = tuple[tuple[str, ...], bool, tuple[tuple[str, str, str], ...]]  # labels, legend, (name, colour, style)
PIXELS, DPI = 640, 100  # 6.4 inches square
CACHED_LAYOUTS = 8  # about 1.7 MB each (the figure and its pre-rendered text)
_LOCK = threading.Lock()  # a cached figure is redrawn in place: one chart at a time
_CACHE: OrderedDict[Layout, _Chart] = OrderedDict()  # least recently used first


def radar_png(labels: list[str], current: list[float | None], previous: list[float | None] | None = None) -> bytes:
    """Scores 1-5 per area (None: nothing rated there), the previous assessment's overlaid if given."""
    series: list[Series] = [("Last time", previous, "#9aa5b1", "--")] if previous is not None else []
    series.append(("Now", current, SELF_COLOUR, "-"))
    return radar(labels, series, legend=previous is not None)


def self_vs_others_png(labels: list[str], me: list[float | None] | None, others: list[float | None]) -> bytes:
    """360° feedback: the subject's own view and others' average, one line each (others' alone without a
    self-assessment). The PNG's "Series" text names the lines drawn."""
    series: list[Series] = [("You", me, SELF_COLOUR, "--")] if me is not None else []
    series.append(("Others", others, OTHERS_COLOUR, "-"))
    return radar(labels, series, legend=True)


def radar(labels: list[str], series: list[Series], *, legend: bool) -> bytes:
    """A radar chart of one or more series over the same areas, scale 0-5."""
    layout: Layout = (tuple(labels), legend, tuple((name, colour, style) for name, _, colour, style in series))
    values = [[v if v is not None else 0.0 for v in scores] for _, scores, *_ in series]
    with _LOCK:
        chart = _CACHE.pop(layout, None) or _Chart(layout)
        _CACHE[layout] = chart
        while len(_CACHE) > CACHED_LAYOUTS:
            _CACHE.popitem(last=False)
        rgba = chart.draw(values)
    return _png(rgba, "; ".join(name for name, *_ in series))


def _png(rgba: bytes, series: str) -> bytes:
    """RGBA pixels (top row first) as a PNG: 8 bits a channel, rows unfiltered, deflated at a fast level, with
    the resolution (pHYs) and the series' names (a "Series" tEXt chunk) as ``savefig`` wrote them. (Written
    here rather than by Pillow: its per-row filter search took 11 ms of a chart's 14, this 4-5 ms, and the
    file is smaller; bench/chart.py.)"""
    stride = PIXELS * 4
    rows = b"".join(b"\0" + rgba[start : start + stride] for start in range(0, len(rgba), stride))  # filter: none

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    per_metre = round(DPI / 0.0254)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", PIXELS, PIXELS, 8, 6, 0, 0, 0)),  # 8-bit RGBA, not interlaced
            chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
            chunk(b"tEXt", b"Series\0" + series.encode("latin-1")),
            chunk(b"IDAT", zlib.compress(rows, 3)),
            chunk(b"IEND", b""),
        ]
    )


class _Chart:
    """One layout's figure: the static parts rendered once, the series redrawn per chart.

    A chart is what the figure draws (its background, then the axes' background), then what the axes draw in
    their order (Axes.draw: sorted by z-order, stable). The runs of static artists between the series' lines
    and fills are each rendered once, alone on a transparent canvas, and composited in place: Agg blends a
    layer's pixel as it blended the stroke or glyph that made it (to within a few levels where a layer's own
    strokes overlap: tests/test_chart.py). A spine (the outer circle) is one path: drawn each time, not kept."""

    def __init__(self, layout: Layout) -> None:
        from matplotlib.spines import Spine

        fig, ax, self.angles, self.series = _figure(layout)
        dynamic: list[Artist] = [a for pair in self.series for a in pair]
        for artist in dynamic:
            artist.set_animated(True)  # left out of a full draw
        self.background = [fig.patch, ax.patch]  # two filled shapes: cheaper to draw than to keep
        order = sorted((a for a in ax.get_children() if a is not ax.patch), key=lambda a: a.zorder)
        steps: list[Artist | list[Artist]] = []
        for artist in order:
            if artist in dynamic or isinstance(artist, Spine):
                steps.append(artist)
            elif steps and isinstance(steps[-1], list):
                steps[-1].append(artist)
            else:
                steps.append([artist])
        # Each run is rendered by a full draw of the figure with all else hidden, so that the axes lay out
        # their ticks, labels and legend as they would in a full draw.
        shown = {artist: artist.get_visible() for artist in [*self.background, *order]}
        renderer = _renderer()
        self.steps: list[Artist | _Layer] = []
        try:
            for step in steps:
                if not isinstance(step, list):
                    self.steps.append(step)
                    continue
                for artist, visible in shown.items():
                    artist.set_visible(visible and artist in step)
                renderer.clear()
                fig.draw(renderer)
                if (layer := _layer(renderer)) is not None:
                    self.steps.append(layer)
        finally:
            for artist, visible in shown.items():
                artist.set_visible(visible)

    def draw(self, values: list[list[float]]) -> bytes:
        """The chart's pixels (RGBA, top row first) for these series' values."""
        closed = [*self.angles, self.angles[0]]
        for (line, fill), points in zip(self.series, values, strict=True):
            line.set_data(closed, [*points, points[0]])
            fill.set_xy(list(zip(closed, [*points, points[0]], strict=True)))
        renderer = _renderer()
        renderer.clear()
        for artist in self.background:
            artist.draw(renderer)
        gc = renderer.new_gc()
        try:
            for step in self.steps:
                if isinstance(step, tuple):
                    x, y, pixels = step
                    renderer.draw_image(gc, x, y, pixels)
                else:
                    step.draw(renderer)
        finally:
            gc.restore()
        return bytes(renderer.buffer_rgba())


def _figure(layout: Layout) -> tuple[Figure, PolarAxes, list[float], list[tuple[Line2D, Polygon]]]:
    """The layout's figure as the full draw sets it up (the series' lines and fills at 0): figure, axes, the
    areas' angles, (line, fill) per series."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.projections.polar import PolarAxes

    labels, legend, styles = layout
    n = len(labels)
    angles = [2 * math.pi * i / n for i in range(n)]
    closed = [*angles, angles[0]]
    fig = Figure(figsize=(PIXELS / DPI, PIXELS / DPI), dpi=DPI)
    FigureCanvasAgg(fig)  # (for whatever asks the figure's canvas; all drawing is on the shared renderer)
    ax = cast(PolarAxes, fig.add_subplot(projection="polar"))
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 5)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_yticklabels(["1", "2", "3", "4", "5"], fontsize=7, color="#666666")
    ax.set_xticks(angles)
    ax.set_xticklabels([textwrap.fill(label, 18) for label in labels], fontsize=7)
    series: list[tuple[Line2D, Polygon]] = []
    for name, colour, style in styles:
        (line,) = ax.plot(closed, [0.0] * (n + 1), style, color=colour, linewidth=2, label=name)
        (fill,) = ax.fill(closed, [0.0] * (n + 1), color=colour, alpha=0.12)
        series.append((line, fill))
    if legend:
        ax.legend(loc="upper right", bbox_to_anchor=(1.15, 1.1), fontsize=8)
    fig.subplots_adjust(left=0.14, right=0.86, top=0.86, bottom=0.14)  # fixed: tight_layout costs a third
    return fig, ax, angles, series


_Layer = tuple[int, int, "np.ndarray[Any, Any]"]  # as draw_image takes an image: x, y, RGBA rows bottom first
_RENDERER: list[Any] = []  # one for every chart (under _LOCK): 1.6 MB, not one per cached layout


def _renderer() -> Any:  # backend_agg.RendererAgg (its methods have no type hints)
    if not _RENDERER:
        from matplotlib.backends.backend_agg import RendererAgg

        _RENDERER.append(cast(Any, RendererAgg)(PIXELS, PIXELS, DPI))
    return _RENDERER[0]


def _layer(renderer: Any) -> _Layer | None:
    """What the renderer holds, cut to the pixels drawn on (None: nothing drawn)."""
    import numpy as np

    pixels = np.asarray(renderer.buffer_rgba())
    drawn = pixels[..., 3] > 0
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if not len(rows):
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return int(left), int(pixels.shape[0] - bottom), np.ascontiguousarray(pixels[top:bottom, left:right][::-1])
