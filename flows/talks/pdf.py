"""The appraisal pack as an A4 PDF (fpdf2, DejaVu Sans as matplotlib ships it, so any Unicode the font has
prints and nothing needs a system package): cover, summary with the self-assessment chart, reflections by
standard or domain, the CPD log, the personal development plan, sources; page numbers and the date made.
Sizes are for reading printed and on a phone: 11 pt body, short lines, plenty of space between entries."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from flows.talks.pack_data import PackData
from flows.talks.pack_text import course_line, cpd_kind, hours, long_day, rating_words, summary_lines

NHS_BLUE = (0, 94, 184)
GREY = (90, 90, 90)


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Pack(FPDF):
    def __init__(self, made: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.made = made
        fonts = _font_dir()
        self.add_font("dejavu", "", str(fonts / "DejaVuSans.ttf"))
        self.add_font("dejavu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.add_font("dejavu", "I", str(fonts / "DejaVuSans-Oblique.ttf"))
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=20)
        font = self.fonts["dejavu"]
        self.glyphs = set(font.cmap) if isinstance(font, TTFFont) else set()  # characters the font can print

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("dejavu", "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 6, f"LeadCoach appraisal pack · made {self.made} · page {self.page_no()} of {{nb}}", align="C")

    def clean(self, text: str) -> str:
        """Text the font can print (an emoji it lacks becomes nothing rather than a box or an error)."""
        return "".join(ch for ch in text if ord(ch) in self.glyphs or ch in "\n\t")

    def heading(self, text: str, size: float = 16) -> None:
        if self.get_y() > self.h - 45:  # a heading never sits alone at the foot of a page
            self.add_page()
        self.set_font("dejavu", "B", size)
        self.set_text_color(*NHS_BLUE)
        self.lines(text, size * 0.5)
        self.ln(2)
        self.set_text_color(0, 0, 0)

    def para(self, text: str, size: float = 11, style: str = "", gap: float = 1.5) -> None:
        self.set_font("dejavu", style, size)
        self.lines(text, size * 0.5)
        self.ln(gap)

    def lines(self, text: str, height: float) -> None:
        """Text wrapped at word boundaries, a line a cell. fpdf2's multi_cell measures a paragraph again for
        every character it adds (a year of reflections took a second); words measured once take a tenth."""
        for line in _wrap(self.clean(text), self.epw, self.get_string_width):
            self.cell(0, height, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines no wider than ``width``: words kept whole where they fit, a longer word split where it must."""
    out: list[str] = []
    space = measure(" ")
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for word in paragraph.split():
            size = measure(word)
            while size > width:  # a word wider than the line: as much as fits, then the rest
                cut = max(1, int(len(word) * width / size) - 1)
                if line:
                    out.append(line)
                out.append(word[:cut])
                line, used, word = "", 0.0, word[cut:]
                size = measure(word)
            if line and used + space + size > width:
                out.append(line)
                line, used = "", 0.0
            line, used = (f"{line} {word}", used + space + size) if line else (word, size)
        out.append(line)
    return out


def render_pdf(pack: PackData, chart: Callable[[], bytes] | None = None) -> bytes:
    """The pack as PDF bytes; ``chart`` draws the self-assessment radar (PNG) when there is one."""
    pdf = _Pack(long_day(pack.made))
    pdf.set_title("Appraisal pack")
    pdf.set_author(pack.name or "LeadCoach user")
    _cover(pdf, pack)
    _summary(pdf, pack, chart)
    _feedback(pdf, pack)
    _reflections(pdf, pack)
    _cpd(pdf, pack)
    _plan(pdf, pack)
    _sources(pdf, pack)
    return bytes(pdf.output())


def _cover(pdf: _Pack, pack: PackData) -> None:
    pdf.add_page()
    pdf.ln(40)
    pdf.heading("Appraisal pack", 26)
    if pack.name:
        pdf.para(pack.name, 16, "B")
    pdf.para(f"{pack.framework} · {pack.stage}", 13)
    pdf.para(f"Evidence from {long_day(pack.start)} to {long_day(pack.end)}", 13)
    pdf.ln(10)
    pdf.para(
        "Made with LeadCoach from weekly reflections, self-assessments and a CPD log, mapped to the "
        "framework. Patient-identifiable details were removed before printing.",
        10,
        "I",
    )


def _summary(pdf: _Pack, pack: PackData, chart: Callable[[], bytes] | None) -> None:
    pdf.add_page()
    pdf.heading("Summary")
    for line in summary_lines(pack):
        pdf.para(line)
    if pack.assessment is None:
        return
    a = pack.assessment
    pdf.ln(2)
    pdf.heading(f"Self-assessment of {long_day(a.finished)}", 13)
    if chart is not None:
        if pdf.get_y() > 150:
            pdf.add_page()
        pdf.image(io.BytesIO(chart()), x=(210 - 120) / 2, w=120)
    since = f" (change since {long_day(a.previous)})" if a.previous else ""
    pdf.para(f"Average rating by {pack.unit_name[:-1]}, 1–5{since}:", 10, "I")
    for area in a.areas:
        score = f"{area.score:.1f}" if area.score is not None else "not rated"
        change = f" ({area.change:+.1f})" if area.change is not None and abs(area.change) >= 0.05 else ""
        pdf.para(f"• {area.title}: {score}{change}", 10, gap=0.5)


def _feedback(pdf: _Pack, pack: PackData) -> None:
    if not pack.feedback:
        return
    pdf.ln(2)
    pdf.heading("360° feedback", 13)
    for line in pack.feedback:
        pdf.para(line, 10, gap=0.5)


def _reflections(pdf: _Pack, pack: PackData) -> None:
    pdf.add_page()
    pdf.heading(f"Reflections by {pack.unit_name[:-1]}")
    if not pack.reflections:
        pdf.para("No reflections in this period.")
    for unit, title in [*pack.units, ("", "Other")]:
        entries = [r for r in pack.reflections if r.unit == unit]
        if not entries:
            continue
        pdf.heading(f"{title} ({len(entries)})", 13)
        for r in entries:
            pdf.para(f"{long_day(r.day)} · {r.item}" + (f" · {rating_words(r.rating)}" if r.rating else ""), 11, "B")
            for heading, answer in r.answers:
                pdf.para(heading, 10, "B", gap=0.2)
                pdf.para(answer, 11, gap=1)
            pdf.ln(2)


def _cpd(pdf: _Pack, pack: PackData) -> None:
    pdf.add_page()
    pdf.heading("CPD log")
    if not pack.activities:
        pdf.para("No activities logged in this period (reflection time is counted in the summary).")
        return
    pdf.set_font("dejavu", "", 9)
    with pdf.table(
        col_widths=(22, 62, 24, 14, 52),
        headings_style=_bold(),
        line_height=5,
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"),
    ) as table:
        table.row(["Date", "Activity", "Kind", "Hours", "Framework areas"])
        for a in pack.activities:
            table.row(
                [a.day.strftime("%d/%m/%Y"), pdf.clean(a.title), cpd_kind(a), hours(a.minutes), "; ".join(a.items)]
            )
    pdf.ln(3)
    total = sum(a.minutes for a in pack.activities)
    part = sum(a.minutes for a in pack.activities if a.participatory)
    pdf.para(f"Logged activities: {hours(total)} hours, {hours(part)} of them participatory.", 10)


def _bold() -> FontFace:
    return FontFace(emphasis="BOLD", fill_color=(232, 237, 238))


def _plan(pdf: _Pack, pack: PackData) -> None:
    pdf.add_page()
    pdf.heading("Personal development plan")
    if not pack.plan:
        pdf.para("No priorities yet: a self-assessment (/assess) suggests them from your lowest-rated areas.")
    else:
        pdf.para(
            "Priorities: the areas a development programme was chosen for first, then the lowest-rated areas of "
            "the latest self-assessment.",
            9,
            "I",
        )
    for n, item in enumerate(pack.plan, 1):
        p = item.priority
        score = f" (now {p.score:.1f})" if p.score is not None else ""
        pdf.para(f"{n}. {p.title}{score}", 12, "B", gap=0.5)
        if p.programme:
            pdf.para(course_line(p), 10, "I", gap=0.5)
        pdf.para(item.objective, 11, gap=3)
    if pack.programmes:
        pdf.heading("Programmes I have committed to", 13)
        for line in pack.programmes:
            pdf.para(f"• {line}", 11, gap=0.5)
        pdf.ln(2)
    actions = [r for r in pack.reflections if r.action and r.follow_up is not None]
    pdf.heading("Actions committed to, and how they went", 13)
    if not actions:
        pdf.para("No dated actions yet: a reflection's Now what? that says when (e.g. by 18 Dec) is followed up.", 10)
    for r in actions:
        assert r.follow_up is not None
        f = r.follow_up
        pdf.para(f"{long_day(r.day)} · {r.item}", 10, "B", gap=0.2)
        pdf.para(r.action, 11, gap=0.5)
        how = f"{f.outcome}" + (f" — {f.note}" if f.note else "") if f.outcome else "not reviewed yet"
        pdf.para(f"Review date {long_day(f.due)}: {how}", 10, "I", gap=1.5)
    pdf.para("Each reflection's own Now what? is with it in the reflections above.", 9, "I")


def _sources(pdf: _Pack, pack: PackData) -> None:
    pdf.ln(4)
    pdf.heading("Sources of the framework text", 11)
    for source in pack.sources:
        pdf.para(source, 8)
    pdf.para(f"Made on {long_day(pack.made)} by LeadCoach.", 8, "I")
