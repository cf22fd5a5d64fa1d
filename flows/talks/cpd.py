"""/cpd: log development activities (durations and days typed as people write them), list, correct and
delete them, set targets and see progress with pace. Progress, pace and /appraisal are ``flows/progress.py``."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape, unescape

from sqlalchemy import delete

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import identifier_step
from flows.core.replies import Button
from flows.core.steps import fixed, free_text, number
from flows.rules.areas import UNIT, UNIT_NAMES, unit_of, units
from flows.rules.parse import length_months
from flows.store.models import CpdActivity, CpdTarget
from flows.talks import cpd_log
from flows.talks.common import ends, parse_date, plural, short
from flows.talks.cpd_state import C, CpdState, TargetLine, back_button, cpd_progress, to
from flows.talks.progress import (
    TARGET_KINDS,
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
    months_on,
    next_appraisal,
    on_target_change,
    progress,
    target_changed,
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


ENDS = {"6 months": 0, "1 year": 1, "3 years": 3}  # "In 1 year": years on (0: six months)


async def cpd_command(ctx: Ctx, args: str) -> None:
    await ctx.start("cpd", CpdState(), C.HOME)


# the summary


async def _fresh(ctx: Ctx, s: CpdState) -> None:
    """Entering the summary or the list of targets: a new state (nothing half-entered), the targets loaded."""
    items = await progress(ctx.db, ctx.catalogue, ctx.user, ctx.now, ctx.engine.appraisal_round)
    ctx.state = CpdState(
        targets=[
            TargetLine(id=p.target.id, line=p.line, finishable=p.target.kind == "programme" and not p.target.done_on)
            for p in items
        ]
    )


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
    remove = [[Button("Change or remove a target", "remove")]] if s.targets else []
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


# setting a target


def _programme_buttons(ctx: Ctx, s: CpdState) -> Rows:
    programmes = ctx.catalogue.of_kind("programmes", "programme")
    return [*([Button(short(e.title, 40), "prog", e.id.split(".", 1)[1])] for e in programmes), [back_button()]]


async def set_programme(ctx: Ctx, s: CpdState, arg: str) -> None:
    if f"programmes.{arg}" not in ctx.catalogue.by_id:
        return
    s.programme = f"programmes.{arg}"
    await ctx.go(C.END)


def programme_months(ctx: Ctx, s: CpdState) -> int | None:
    """How many months the chosen programme runs, where the catalogue says."""
    code = s.programme.split(".", 1)[-1]
    found = next((p for p in ctx.catalogue.programmes.entries if p.code == code), None)
    return length_months(found.duration) if found is not None and s.kind == "programme" else None


def _end_buttons(ctx: Ctx, s: CpdState) -> Rows:
    months = programme_months(ctx, s)
    length: Rows = []
    if months:
        day = months_on(local_today(ctx.user, ctx.now), months)
        length = [[Button(f"By {long_date(day)} (its length)", "end", "length")]]
    return [*length, [Button(f"In {span}", "end", span) for span in ENDS], [back_button()]]


def _end_prompt(ctx: Ctx, s: CpdState) -> str:
    months = programme_months(ctx, s)
    runs = f"It runs for about {plural(months, 'month')}. " if months else ""
    return runs + "By when? Tap one or type a date like 31/03/2027."


async def set_end(ctx: Ctx, s: CpdState, arg: str) -> None:
    """A tapped "In 1 year" (or typed "1 year"), the programme's own length, or a typed date."""
    today = local_today(ctx.user, ctx.now)
    offset = ENDS.get(arg.lower().removeprefix("in ").strip())
    months = programme_months(ctx, s) if arg == "length" else None
    day = years_on(today, offset) if offset is not None else parse_date(arg)
    day = months_on(today, months) if months else day
    if day is None:
        ctx.say("I couldn't read that date. Try 31/03/2027.")
        return
    if day <= today:
        ctx.say("Please give a date in the future.")
        return
    s.ends_on = day
    if s.redating:
        await _redate(ctx, s, day)
        return
    await save_target(ctx, s)


async def save_target(ctx: Ctx, s: CpdState) -> None:
    ctx.db.add(
        CpdTarget(
            user_id=ctx.user.id,
            kind=s.kind,
            minutes=s.goal if s.kind == "hours" else None,
            participatory_minutes=s.part_goal if s.kind == "hours" else None,
            count=s.goal if s.kind == "reflections" else None,
            programme=s.programme or None,
            starts_on=local_today(ctx.user, ctx.now),
            ends_on=s.ends_on,
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    ctx.say("Target set.")
    await target_changed(ctx)
    await ctx.go(C.HOME)


# removing a target or finishing a programme


def _targets_buttons(ctx: Ctx, s: CpdState) -> Rows:
    rows = []
    for t in s.targets:
        label = short(_plain(t.line), 48)
        rows.append([Button("New date: " + label, "redate", str(t.id))])
        rows.append([Button("Remove: " + label, "change", f"-{t.id}")])
        if t.finishable:
            rows.append([Button("Mark finished: " + label, "change", f"+{t.id}")])
    return [*rows, [back_button()]]


def _plain(line: str) -> str:
    return unescape(line.split(" — ")[0].replace("<b>", "").replace("</b>", ""))


async def change_target(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Remove a target ("-7") or mark a programme finished ("+7")."""
    t = await ctx.db.get(CpdTarget, int(arg[1:])) if arg[1:].isdigit() else None
    if t is not None and t.user_id == ctx.user.id:
        if arg.startswith("+"):
            t.done_on = local_today(ctx.user, ctx.now)
            ctx.say("Well done — marked finished.")
        else:
            await ctx.db.execute(delete(CpdTarget).where(CpdTarget.id == t.id))
            ctx.say("Target removed.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def redate(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Change a target's date: the same question as for a new target's."""
    if arg.isdigit() and any(t.id == int(arg) for t in s.targets):
        s.redating = int(arg)
        await ctx.go(C.END)
        return
    await ctx.go(C.TARGETS)


async def _redate(ctx: Ctx, s: CpdState, day: date) -> None:
    t = await ctx.db.get(CpdTarget, s.redating)
    if t is not None and t.user_id == ctx.user.id:
        t.ends_on = day
        ctx.say(f"New date set: {long_date(day)}.")
        await target_changed(ctx)
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
            enter=_fresh,
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
        C.KIND: Step(
            "What kind of target?",
            fixed([*([Button(label, kind)] for kind, label in TARGET_KINDS.items()), [back_button()]]),
            {
                "hours": to(C.GOAL, kind="hours"),
                "reflections": to(C.COUNT, kind="reflections"),
                "coverage": to(save_target, kind="coverage"),  # nothing more to ask
                "programme": to(C.PROGRAMME, kind="programme"),
                **BACK,
            },
            goes_to=(C.GOAL, C.COUNT, C.PROGRAMME),
        ),
        C.GOAL: number(
            "How many hours in all? (Nurses' revalidation asks for 35 hours over 3 years.)",
            into="goal",
            low=1,
            high=1000,
            scale=60,
            what="the hours",
            presets=[("35 hours", 35)],
            then=C.PART_GOAL,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.PART_GOAL: number(
            "How many of those hours should be participatory (learning with others)?",
            into="part_goal",
            low=0,
            high=lambda s: s.goal // 60,
            scale=60,
            what="the participatory hours",
            presets=[("20 hours", 20), ("None", 0)],
            then=C.END,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.COUNT: number(
            "How many reflections a month?",
            into="goal",
            low=1,
            high=31,
            what="the reflections a month",
            presets=[("1", 1), ("2", 2), ("4", 4)],
            then=save_target,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.PROGRAMME: Step("Which programme?", _programme_buttons, {"prog": set_programme, **BACK}, goes_to=(C.END,)),
        C.END: Step(
            _end_prompt,
            _end_buttons,
            {"end": set_end, **BACK},
            text=set_end,
            goes_to=(C.HOME,),
        ),
        C.TARGETS: Step(
            "Which target?",
            _targets_buttons,
            {"change": change_target, "redate": redate, **BACK},
            enter=_fresh,
            goes_to=(C.HOME, C.END),
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("cpd", cpd_command, Kind.SWITCH)
    engine.command("appraisal", appraisal_command, Kind.OVERLAY)
