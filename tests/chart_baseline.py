"""The radar chart as flows/talks/chart.py drew it before its figures were cached (f9f7e6d): a fresh pyplot
figure per chart, fully drawn and saved by ``savefig``. Kept only as the baseline that tests/test_chart.py
compares the production rendering with, pixel by pixel, and that bench/chart.py times it against; nothing
in the coach calls it."""

from __future__ import annotations

import io
import math
import textwrap
import threading
from typing import cast

from flows.talks.chart import Series

_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


def radar(labels: list[str], series: list[Series], *, legend: bool) -> bytes:
    """A radar chart of one or more series over the same areas, scale 0-5 (the full draw, unchanged)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.projections.polar import PolarAxes

    n = len(labels)
    angles = [2 * math.pi * i / n for i in range(n)]
    with _LOCK:
        fig = plt.figure(figsize=(6.4, 6.4), dpi=100)
        try:
            ax = cast(PolarAxes, fig.add_subplot(projection="polar"))
            ax.set_theta_offset(math.pi / 2)
            ax.set_theta_direction(-1)
            ax.set_ylim(0, 5)
            ax.set_yticks([1, 2, 3, 4, 5])
            ax.set_yticklabels(["1", "2", "3", "4", "5"], fontsize=7, color="#666666")
            ax.set_xticks(angles)
            ax.set_xticklabels([textwrap.fill(label, 18) for label in labels], fontsize=7)
            for name, values, colour, style in series:
                points = [v if v is not None else 0.0 for v in values]
                ax.plot([*angles, angles[0]], [*points, points[0]], style, color=colour, linewidth=2, label=name)
                ax.fill([*angles, angles[0]], [*points, points[0]], color=colour, alpha=0.12)
            if legend:
                ax.legend(loc="upper right", bbox_to_anchor=(1.15, 1.1), fontsize=8)
            fig.subplots_adjust(left=0.14, right=0.86, top=0.86, bottom=0.14)  # fixed: tight_layout costs a third
            out = io.BytesIO()
            fig.savefig(out, format="png", metadata={"Series": "; ".join(name for name, *_ in series)})
            return out.getvalue()
        finally:
            plt.close(fig)
