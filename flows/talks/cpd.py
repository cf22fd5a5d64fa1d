"""/cpd: log development activities (durations and days typed as people write them), list, correct and
delete them, set targets and see progress with pace. Progress, pace and /appraisal are ``flows/progress.py``."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import identifier_step
from flows.core.replies import Button
from flows.core.steps import fixed, free_text, number
from flows.rules.areas import UNIT, UNIT_NAMES, unit_of, units
from flows.store.models import CpdActivity
from flows.talks import cpd_log, cpd_targets
from flows.talks.common import ends, short
from flows.talks.cpd_state import C, CpdState, back_button, cpd_progress, to
from flows.talks.progress import (
    Appraisal,
    Progress,
    _minutes,
    appraisal_command,
    appraisal_text,
    behind,
    covered,
    hours,
    local_today,
    long_date,
    next_appraisal,
    on_target_change,
    years_on,
)

__all__ = [  # what other modules import from here (progress moved to flows/progress.py)
    "UNIT",
    "UNIT_NAMES",
    "Appraisal",
    "Progress",
    "appraisal_text",
    "behind",
    "covered",
    "local_today",
    "long_date",
    "next_appraisal",
    "on_target_change",
    "unit_of",
    "units",
    "years_on",
]

# --- the /cpd flow ----------------------------------------------------------------------------------


async def cpd_command(ctx: Ctx, args: str) -> None:
    await ctx.start("cpd", CpdState(), C.HOME)


# the summary


async def _home_prompt(ctx: Ctx, s: CpdState) -> str:
    today = local_today(ctx.user, ctx.now)
    total, part = await _minutes(ctx.db, ctx.user, today - timedelta(days=365), today)
    lines = [
        "<b>Your CPD</b>",
        f"Last 12 months: {hours(total)} hours logged ({hours(part)} participatory), reflections included.",
        "",
    ]
    if s.targets:
        lines += ["<b>Targets</b>", *(f"• {t.line}" for t in s.targets)]
    else:
        lines.append(
            "No targets yet. A target (e.g. 35 hours over 3 years, 20 of them participatory) lets me show your pace."
        )
    return "\n".join(lines)


def _home_buttons(ctx: Ctx, s: CpdState) -> Rows:
    remove = [[Button(cpd_targets.MANAGE, "remove")]] if s.targets else []
    return [
        [Button("Log an activity", "log"), Button("My activities", "list")],
        [Button("Set a target", "target")],
        *remove,
        [Button("Done", "done")],
    ]


done = ends("OK. /cpd shows your progress any time.")


# logging an activity


async def accept_what(ctx: Ctx, s: CpdState, text: str) -> None:
    s.title = short(text.strip(), 200)
    if s.editing:
        await cpd_log.update_activity(ctx, s, title_enc=ctx.cipher.encrypt_json(s.title))
    else:
        await ctx.go(C.MINUTES)


def _link_buttons(ctx: Ctx, s: CpdState) -> Rows:
    fw = ctx.user.framework
    areas = ctx.catalogue.of_kind(fw, UNIT.get(fw, "standard"))
    rows = [[Button(("✓ " if e.id in s.items else "") + short(e.title, 36), "item", e.id)] for e in areas]
    return [*rows, [Button("Save", "save"), back_button()]]


async def toggle_item(ctx: Ctx, s: CpdState, arg: str) -> None:
    if arg in s.items:
        s.items = [i for i in s.items if i != arg]
    elif arg in ctx.catalogue.by_id:
        s.items = [*s.items, arg]
    await ctx.go(C.LINK)


async def save_activity(ctx: Ctx, s: CpdState, arg: str) -> None:
    ctx.db.add(
        CpdActivity(
            user_id=ctx.user.id,
            done_on=s.done_on or local_today(ctx.user, ctx.now),
            title_enc=ctx.cipher.encrypt_json(s.title),
            minutes=s.minutes,
            participatory=s.participatory,
            items=s.items,
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    kind = "participatory" if s.participatory else "self-directed"
    day = cpd_log.day_words(s.done_on or local_today(ctx.user, ctx.now), local_today(ctx.user, ctx.now))
    ctx.say(f"Logged: {escape(s.title)} — {hours(s.minutes)} h, {kind}, {day}.")
    await ctx.go(C.HOME)


# Back while logging an activity goes one question back, keeping what was typed; elsewhere to the summary.
# Correcting a logged activity, Back goes to it; from the list, to the summary.
PREVIOUS = {
    C.MINUTES: C.WHAT,
    C.WHEN: C.MINUTES,
    C.PARTICIPATORY: C.WHEN,
    C.LINK: C.PARTICIPATORY,
    C.ACTIVITY: C.ACTIVITIES,
}


async def back(ctx: Ctx, s: CpdState, arg: str) -> None:
    if s.redating or s.retargeting:  # changing a target: back to it, unchanged
        s.redating = s.retargeting = 0
        await ctx.go(C.TARGET)
        return
    if s.editing:
        s.editing = 0
        await ctx.go(C.ACTIVITY)
        return
    await ctx.go(PREVIOUS.get(C(ctx.step), C.HOME) if ctx.step in PREVIOUS else C.HOME)


async def discard_or_back(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Back from "what did you do?": to the activity being corrected, else (discarding) to the summary."""
    await (back(ctx, s, arg) if s.editing else ctx.go(C.HOME))


def _what_buttons(ctx: Ctx, s: CpdState) -> Rows:
    if not s.title:
        return [[back_button()]]
    return [[Button("Keep what I wrote", "keep")], [Button("Discard this entry", "home")]]


BACK = {"home": back}
FLOW = Flow(
    name="cpd",
    label="CPD entry",
    state=CpdState,
    names=C,
    progress=cpd_progress,
    steps={
        C.HOME: Step(
            _home_prompt,
            _home_buttons,
            {
                "log": to(C.WHAT),
                "list": to(C.ACTIVITIES),
                "target": to(C.KIND),
                "remove": to(C.TARGETS),
                "done": done,
            },
            enter=cpd_targets.fresh,
            goes_to=(C.WHAT, C.ACTIVITIES, C.KIND, C.TARGETS),
        ),
        C.WHAT: free_text(
            "What did you do? One line, e.g. <i>Finance for non-finance managers workshop</i>.",
            accept_what,
            _what_buttons,
            {"keep": to(C.MINUTES), "home": discard_or_back},
        ),
        C.IDENTIFIERS: identifier_step(accept_what),
        C.MINUTES: number(
            "How long did it take? Tap one or type it, e.g. <i>45 min</i>, <i>1h30</i> or <i>6.5 hours</i>.",
            into="minutes",
            low=1,
            high=24 * 60,
            what="the minutes",
            presets=[("30 min", 30), ("1 h", 60), ("1½ h", 90), ("2 h", 120), ("3 h", 180), ("A day (7 h)", 420)],
            then=cpd_log.after_minutes,
            parse=cpd_log.minutes_typed,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.PARTICIPATORY: Step(
            "Was it participatory — learning with other people (a course, workshop, action learning set, "
            "conference) rather than on your own?",
            fixed([[Button("Yes — with others", "yes"), Button("No — on my own", "no")], [back_button()]]),
            {"yes": to(C.LINK, participatory=True), "no": to(C.LINK, participatory=False), **BACK},
            goes_to=(C.LINK,),
        ),
        C.LINK: Step(
            "Which areas of your framework did it develop? Tap any that apply, then Save.",
            _link_buttons,
            {"item": toggle_item, "save": save_activity, **BACK},
            goes_to=(C.HOME,),
        ),
        **cpd_log.steps(BACK),
        **cpd_targets.steps(BACK),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("cpd", cpd_command, Kind.SWITCH)
    engine.command("appraisal", appraisal_command, Kind.OVERLAY)
