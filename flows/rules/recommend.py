"""What development fits an area: programmes tagged for it at the user's stage, formal or learning from
others, positive-action programmes always saying who they are for."""

from __future__ import annotations

from html import escape

from frameworks.schema import Programme

FORMAL = ("programme", "course", "elearning")
FROM_OTHERS = ("coaching", "network")


def fits(p: Programme, unit: str, stage: str) -> bool:
    return unit in p.develops and stage in p.stages


def programme_line(p: Programme) -> str:
    facts = [x for x in (p.duration, p.cost) if x]
    line = f"<b>{escape(p.title)}</b> ({escape(p.provider)})" + (f" — {escape('; '.join(facts))}" if facts else "")
    if p.positive_action:  # positive action: always said who it is for
        line += f"\n  Who it is for: {escape(p.eligibility or 'see the programme page')} (positive action)"
    if p.url:
        line += f"\n  {escape(p.url)}"
    return line
