"""The appraisal pack in words: the summary lines the PDF and the Markdown share, the Markdown itself, and
the CPD log as CSV (for appraisal portals that take uploads)."""

from __future__ import annotations

import csv
import io
from datetime import date

from flows.rules.scale import RATING_LABELS
from flows.rules.smart import Priority
from flows.talks.common import plural
from flows.talks.pack_data import ActivityEntry, PackData


def hours(minutes: float) -> str:
    value = minutes / 60
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def long_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def rating_words(rating: int | None) -> str:
    return f"rated {rating} {RATING_LABELS[rating - 1]}" if rating and 1 <= rating <= 5 else ""


def course_line(p: Priority) -> str:
    """The programme chosen for a priority's area (in /develop), with its date."""
    by = f", to finish by {long_day(p.programme_by)}" if p.programme_by else ""
    return f"Development programme chosen for this area: {p.programme}{by}."


def cpd_kind(a: ActivityEntry) -> str:
    return "Participatory" if a.participatory else "Self-directed"


def summary_lines(pack: PackData) -> list[str]:
    covered = [title for u, title in pack.units if u in pack.covered]
    gaps = [title for u, title in pack.units if u not in pack.covered]
    lines = [
        f"Reflections in the period: {len(pack.reflections)}.",
        f"{pack.unit_name.capitalize()} covered: {len(covered)} of {len(pack.units)}"
        + (f" ({'; '.join(covered)})." if covered else "."),
        ("Not yet covered: " + "; ".join(gaps) + ".") if gaps else f"Every one of the {pack.unit_name} is covered.",
        f"CPD in the period: {hours(pack.minutes)} hours, reflections included; "
        f"{hours(pack.participatory)} hours participatory.",
    ]
    lines += [f"Target: {t}" for t in pack.targets] or ["No CPD targets set (/cpd sets them)."]
    if pack.assessment is None:
        lines.append("No self-assessment yet (/assess).")
    return lines


def markdown(pack: PackData) -> str:  # noqa: C901 - one branch per section of the pack, in order
    """The pack as Markdown, the same sections as the PDF."""
    out = ["# Appraisal pack", ""]
    if pack.name:
        out += [f"**{_md(pack.name)}**", ""]
    out += [
        f"{pack.framework} · {pack.stage}  ",
        f"Evidence from {long_day(pack.start)} to {long_day(pack.end)}. Made {long_day(pack.made)}.",
        "",
        "## Summary",
        "",
        *(f"- {_md(line)}" for line in summary_lines(pack)),
        "",
    ]
    if pack.assessment is not None:
        a = pack.assessment
        out += [f"### Self-assessment of {long_day(a.finished)}", ""]
        for area in a.areas:
            score = f"{area.score:.1f}" if area.score is not None else "not rated"
            change = f" ({area.change:+.1f})" if area.change is not None and abs(area.change) >= 0.05 else ""
            out.append(f"- {_md(area.title)}: {score}{change}")
        out.append("")
    if pack.feedback:
        out += ["### 360° feedback", "", *(_md(line) + "  " for line in pack.feedback), ""]
    out += [f"## Reflections by {pack.unit_name[:-1]}", ""]
    for unit, title in [*pack.units, ("", "Other")]:
        entries = [r for r in pack.reflections if r.unit == unit]
        if entries:
            out += [f"### {_md(title)} ({len(entries)})", ""]
        for r in entries:
            rated = f" · {rating_words(r.rating)}" if r.rating else ""
            out += [f"**{long_day(r.day)} · {_md(r.item)}{rated}**", ""]
            out += [f"*{h}* {_md(answer)}  " for h, answer in r.answers]
            out.append("")
    out += ["## CPD log", "", "| Date | Activity | Kind | Hours | Framework areas |", "|---|---|---|---:|---|"]
    out += [
        f"| {a.day:%d/%m/%Y} | {_cell(a.title)} | {cpd_kind(a)} | {hours(a.minutes)} | {_cell('; '.join(a.items))} |"
        for a in pack.activities
    ]
    out += ["", "## Personal development plan", ""]
    for n, item in enumerate(pack.plan, 1):
        course = f" ({_md(course_line(item.priority))})" if item.priority.programme else ""
        out += [f"{n}. **{_md(item.priority.title)}**{course}: {_md(item.objective)}"]
    if pack.programmes:
        out += ["", "### Programmes I have committed to", "", *(f"- {_md(line)}" for line in pack.programmes)]
    out += ["", "### Actions committed to, and how they went", ""]
    for r in pack.reflections:
        if (f := r.follow_up) is not None and r.action:
            how = (f.outcome + (f" — {_md(f.note)}" if f.note else "")) if f.outcome else "not reviewed yet"
            out.append(f"- {long_day(r.day)}, {_md(r.item)}: {_md(r.action)} (review date {long_day(f.due)}: {how})")
    out += ["", "## Sources", "", *(f"- {_md(s)}" for s in pack.sources), ""]
    return "\n".join(out)


def _md(text: str) -> str:
    """User text as literal Markdown (no accidental emphasis, headings or links)."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split("\n"))


def _cell(text: str) -> str:
    return _md(text)


def cpd_csv(pack: PackData) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["date", "activity", "kind", "hours", "minutes", "participatory", "framework_areas"])
    for a in pack.activities:
        title = ("'" + a.title) if a.title[:1] in "=+-@" else a.title  # a spreadsheet never runs it as a formula
        writer.writerow(
            [a.day.isoformat(), title, cpd_kind(a), hours(a.minutes), a.minutes, a.participatory, "; ".join(a.items)]
        )
    return buffer.getvalue()


def caption(pack: PackData) -> str:
    return (
        f"Your appraisal pack: {plural(len(pack.reflections), 'reflection')}, "
        f"{plural(len(pack.activities), 'CPD activity', 'CPD activities')}, "
        f"{long_day(pack.start)} to {long_day(pack.end)}."
    )
