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


def radar_png(labels: list[str], current: list[float | None], previous: list[float | None] | None = None) -> bytes:
    """Scores 1-5 per area (None: nothing rated there), the previous assessment's overlaid if given."""
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
            series = [(previous, "Last time", "#9aa5b1", "--")] if previous is not None else []
            series.append((current, "Now", "#005eb8", "-"))  # NHS blue
            for values, name, colour, style in series:
                points = [v if v is not None else 0.0 for v in values]
                ax.plot([*angles, angles[0]], [*points, points[0]], style, color=colour, linewidth=2, label=name)
                ax.fill([*angles, angles[0]], [*points, points[0]], color=colour, alpha=0.12)
            if previous is not None:
                ax.legend(loc="upper right", bbox_to_anchor=(1.15, 1.1), fontsize=8)
            fig.subplots_adjust(left=0.14, right=0.86, top=0.86, bottom=0.14)  # fixed: tight_layout costs a third
            out = io.BytesIO()
            fig.savefig(out, format="png")
            return out.getvalue()
        finally:
            plt.close(fig)
