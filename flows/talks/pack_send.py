"""Sending the appraisal pack: the user's choices applied to what was gathered, then the PDF (drawn off the
event loop when sent, or already made when a copy is kept), the Markdown and the CSV as documents. /pack and a
share link (``flows/share.py``) both send it this way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape

from flows.core.flow import Ctx
from flows.core.replies import Attachment
from flows.rules.smart import draft_objective
from flows.talks.common import plural
from flows.talks.pack_data import PackData
from flows.talks.pack_text import caption, cpd_csv, markdown


def apply_choices(data: PackData, name: str, objectives: dict[str, str], review: date) -> None:
    """The user's name (if they added it) and objectives (as edited, else the drafts) into the pack."""
    data.name = name
    for item in data.plan:
        item.objective = objectives.get(item.priority.unit) or draft_objective(item.priority, review)


def pdf_renderer(data: PackData) -> Callable[[], bytes]:
    """What draws the PDF (with the self-assessment chart), to run off the event loop."""
    from flows.talks.pdf import render_pdf  # fpdf2 is imported only when a pack is made, not at start-up

    chart = None
    if data.assessment is not None:
        a = data.assessment

        def chart() -> bytes:
            from flows.talks.chart import radar_png

            return radar_png(a.labels, a.current, a.before)

    return lambda: render_pdf(data, chart)


def pdf_name(data: PackData) -> str:
    return f"appraisal-pack-{data.made.isoformat()}.pdf"


def send_pack(ctx: Ctx, data: PackData, made: bytes | None = None) -> None:
    """The PDF (``made`` already, else drawn off the event loop when sent), the Markdown and the CSV."""
    day = data.made.isoformat()
    if made is not None:
        pdf = Attachment(pdf_name(data), made, caption=caption(data))
    else:
        pdf = Attachment(pdf_name(data), b"", caption=caption(data), render=pdf_renderer(data))
    ctx.say(f"📄 {escape(caption(data))}", attachment=pdf)
    ctx.say(
        "The same as Markdown, for portals that take text.",
        attachment=_file(f"appraisal-pack-{day}.md", markdown(data)),
    )
    ctx.say(
        f"Your CPD log ({plural(len(data.activities), 'activity', 'activities')}) as CSV.",
        attachment=_file(f"cpd-log-{day}.csv", cpd_csv(data)),
    )


def _file(name: str, text: str) -> Attachment:
    return Attachment(name, text.encode("utf-8"))
