"""The self-assessment profile as a radar chart (PNG), drawn with matplotlib's headless Agg backend.

Called off the event loop (the adapters run an attachment's ``render`` in a thread) and after the
transaction that stored the ratings has committed."""

from __future__ import annotations

import io
import math
import textwrap
import threading
from typing import cast

_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


Series = tuple[str, list[float | None], str, str]  # (name, score per area, colour, line style)
SELF_COLOUR, OTHERS_COLOUR = "#005eb8", "#ed8b00"  # NHS blue, NHS warm yellow


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
