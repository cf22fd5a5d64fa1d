"""/start onboarding and /settings: framework, stage, day, time, time zone, appraisal date, prompts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from flows.common import (
    DAYS,
    FRAMEWORKS,
    PROMPT_NAMES,
    chunks,
    menu_buttons,
    parse_date,
    parse_time,
    stage_label,
    valid_stage,
    valid_timezone,
)
from flows.engine import Engine
from flows.flow import Ctx, Flow, FlowState, Kind, Step
from flows.nudges import reschedule
from flows.replies import Button
from flows.schedule import aware
from flows.templating import render

SKIP = Button("Skip (keep default)", "skip")
ONBOARDING = ["framework", "stage", "day", "time", "tz", "appraisal"]
TIMES = ["08:00", "12:30", "17:30", "20:00"]


class SetupState(FlowState):
    mode: Literal["onboard", "settings"] = "onboard"


async def start(ctx: Ctx, args: str) -> None:
    if ctx.user.onboarded:
        name = f", {ctx.user.first_name}" if ctx.user.first_name else ""
        ctx.say(f"Welcome back{name}. You're set up already; /settings changes anything.", menu_buttons())
        return
    await ctx.start("setup", SetupState(), "welcome")


async def settings(ctx: Ctx, args: str) -> None:
    await ctx.start("setup", SetupState(mode="settings"), "pick")


async def ask_welcome(ctx: Ctx, s: SetupState) -> None:
    ctx.say(
        render("welcome", name=ctx.user.first_name or ""),
        [[Button("Set up (1 minute)", "go")], [Button("Use the defaults", "defaults")]],
    )


async def ask_pick(ctx: Ctx, s: SetupState) -> None:
    ctx.say(
        summary(ctx),
        [
            [Button("Framework", "edit", "framework"), Button("Stage", "edit", "stage")],
            [Button("Reminder day", "edit", "day"), Button("Reminder time", "edit", "time")],
            [Button("Time zone", "edit", "tz"), Button("Appraisal date", "edit", "appraisal")],
            [Button("Nudges", "edit", "nudges"), Button("Quiet hours", "edit", "quiet")],
            [Button("Reflection prompts", "edit", "model"), Button("Done", "done")],
        ],
    )


NUDGE_KINDS = {
    "nudge_reflection": "Weekly reflection reminder",
    "nudge_appraisal": "Appraisal countdown",
    "nudge_cpd": "CPD pace check",
}


def summary(ctx: Ctx) -> str:
    u = ctx.user
    paused = u.paused_until is not None and aware(u.paused_until) > ctx.now
    round_ = ctx.engine.appraisal_round
    return render(
        "settings",
        framework=FRAMEWORKS.get(u.framework, u.framework),
        stage=stage_label(ctx.catalogue, u.framework, u.stage),
        day=DAYS[u.reflect_day],
        time=u.reflect_time,
        tz=u.timezone,
        appraisal=u.appraisal_date.strftime("%d %B %Y") if u.appraisal_date else "not set",
        round=f"{round_[0][1]}/{round_[0][0]} to {round_[1][1]}/{round_[1][0]}" if round_ else "",
        model=PROMPT_NAMES[u.prompt_model],
        reflection=u.nudge_reflection,
        countdown=u.nudge_appraisal,
        cpd=u.nudge_cpd,
        quiet=f"{u.quiet_start}–{u.quiet_end}" if u.quiet_start != u.quiet_end else "off",
        paused=u.paused_until.astimezone(ZoneInfo(u.timezone)).strftime("%d %B %Y")
        if paused and u.paused_until
        else "",
    )


def _local_day(moment: datetime, zone: str) -> str:
    return aware(moment).astimezone(ZoneInfo(zone)).strftime("%d %B %Y")


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "."


def _back(s: SetupState) -> list[Button]:
    return [SKIP] if s.mode == "onboard" else [Button("Back", "skip")]


async def ask_framework(ctx: Ctx, s: SetupState) -> None:
    ctx.say(
        "Which framework would you like to work with?",
        [[Button(label, "set", fw)] for fw, label in FRAMEWORKS.items()] + [_back(s)],
    )


async def ask_stage(ctx: Ctx, s: SetupState) -> None:
    options = ctx.catalogue.of_kind(ctx.user.framework, "stage")
    lines = [f"<b>{e.title}</b> — {_first_sentence(e.text)}" for e in options]
    ctx.say(
        "Which stage fits your role best?\n\n" + "\n".join(lines),
        [*chunks([Button(e.title.split(":")[0], "set", e.stage or "") for e in options], 3), _back(s)],
    )


async def ask_day(ctx: Ctx, s: SetupState) -> None:
    ctx.say(
        "Which day would you like your weekly reflection reminder?",
        [*chunks([Button(d[:3], "set", str(i)) for i, d in enumerate(DAYS)], 4), _back(s)],
    )


async def ask_time(ctx: Ctx, s: SetupState) -> None:
    ctx.say("What time? Tap one or type a time like 18:15.", [[Button(t, "set", t) for t in TIMES], _back(s)])


async def ask_tz(ctx: Ctx, s: SetupState) -> None:
    tz = ctx.user.timezone
    ctx.say(
        f"Your time zone is {tz}. Keep it, or type another (for example Europe/Dublin).",
        [[Button(f"Keep {tz}", "set", tz)], _back(s)],
    )


async def ask_appraisal(ctx: Ctx, s: SetupState) -> None:
    ctx.say("When is your next appraisal? Type a date like 14/03/2027, or skip.", [_back(s)])


async def ask_nudges(ctx: Ctx, s: SetupState) -> None:
    u = ctx.user
    rows = [[Button(("✓ " if getattr(u, key) else "✗ ") + label, "toggle", key)] for key, label in NUDGE_KINDS.items()]
    paused = u.paused_until is not None and aware(u.paused_until) > ctx.now
    if paused:
        rows.append([Button("Resume nudges now", "resume")])
    ctx.say(
        "Which nudges would you like? Tap to turn one on or off.\n"
        "• Weekly reflection: on your reminder day and time, only if you haven't reflected that week.\n"
        "• Appraisal countdown: about 6 weeks, 2 weeks and 3 days before your appraisal.\n"
        "• CPD pace: at most once a month, only when you're behind a /cpd target.\n"
        "Never more than one nudge a day, and none in your quiet hours.",
        [*rows, [Button("Back", "skip")]],
    )


async def toggle(ctx: Ctx, s: SetupState, key: str) -> None:
    if key in NUDGE_KINDS:
        setattr(ctx.user, key, not getattr(ctx.user, key))
        await reschedule(ctx)
    await ctx.go("nudges")


async def resume(ctx: Ctx, s: SetupState, arg: str) -> None:
    ctx.user.paused_until = None
    await reschedule(ctx)
    ctx.say("Nudges resumed.")
    await ctx.go("nudges")


async def ask_quiet(ctx: Ctx, s: SetupState) -> None:
    u = ctx.user
    now = f"{u.quiet_start}–{u.quiet_end}" if u.quiet_start != u.quiet_end else "off"
    ctx.say(
        f"Quiet hours: {now}. A nudge due then waits until they end. Tap one or type hours like 22:00-07:00.",
        [
            [Button(f"{a}–{b}", "set", f"{a}-{b}") for a, b in (("21:00", "08:00"), ("22:00", "07:00"))],
            [Button("No quiet hours", "set", "off"), Button("Back", "skip")],
        ],
    )


def _apply_quiet(ctx: Ctx, value: str) -> str | None:
    if value.strip().lower() in ("off", "none", "no"):
        ctx.user.quiet_start = ctx.user.quiet_end = "00:00"
        return None
    parts = [parse_time(p) for p in value.replace("–", "-").replace(" to ", "-").split("-")]
    if len(parts) != 2 or parts[0] is None or parts[1] is None:
        return "I couldn't read those hours. Try 22:00-07:00, or tap one."
    ctx.user.quiet_start, ctx.user.quiet_end = parts[0], parts[1]
    return None


async def ask_model(ctx: Ctx, s: SetupState) -> None:
    ctx.say(
        "Which reflection prompts do you prefer?",
        [[Button(name, "set", key)] for key, name in PROMPT_NAMES.items()] + [_back(s)],
    )


def apply(ctx: Ctx, step: str, value: str) -> str | None:
    """Store one answer; return an error message if it isn't valid."""
    u = ctx.user
    if step == "framework":
        if value not in FRAMEWORKS:
            return "Please choose one of the buttons."
        u.framework, u.stage = value, valid_stage(value, u.stage)
    elif step == "stage":
        if ctx.catalogue.stage_entry(u.framework, value) is None:
            return "Please choose one of the stage buttons."
        u.stage = value
    elif step == "day":
        low = value.strip().lower()
        names = [d.lower() for d in DAYS]
        idx = (
            int(low)
            if low.isdigit() and int(low) < 7
            else next((i for i, d in enumerate(names) if low and d.startswith(low[:3])), None)
        )
        if idx is None:
            return "Please tap a day, or type one like Friday."
        u.reflect_day = idx
    elif step == "time":
        parsed = parse_time(value)
        if parsed is None:
            return "I couldn't read that time. Try 18:15 or 6pm."
        u.reflect_time = parsed
    elif step == "tz":
        zone = valid_timezone(value)
        if zone is None:
            return "I don't know that time zone. Try a name like Europe/London or Europe/Dublin."
        u.timezone = zone
    elif step == "appraisal":
        return _apply_appraisal(ctx, value)
    elif step == "model":
        if value not in PROMPT_NAMES:
            return "Please choose one of the buttons."
        u.prompt_model = value
    elif step == "quiet":
        return _apply_quiet(ctx, value)
    return None


def _apply_appraisal(ctx: Ctx, value: str) -> str | None:
    parsed = parse_date(value)
    if parsed is None:
        return "I couldn't read that date. Try 14/03/2027."
    if parsed < ctx.now.date():
        return "That date has passed. Please give the date of your next appraisal, or skip."
    ctx.user.appraisal_date = parsed
    return None


async def advance(ctx: Ctx, s: SetupState) -> None:
    if s.mode == "settings":
        await ctx.go("pick")
        return
    step = ctx.step or ""
    nxt = ONBOARDING.index(step) + 1 if step in ONBOARDING else len(ONBOARDING)
    if nxt < len(ONBOARDING):
        await ctx.go(ONBOARDING[nxt])
    else:
        await finish(ctx, s, "")


async def finish(ctx: Ctx, s: SetupState, arg: str) -> None:
    ctx.user.onboarded = True
    await reschedule(ctx)
    ctx.finish()
    ctx.say("You're all set.\n\n" + summary(ctx) + "\n\nChange any of this with /settings. What next?", menu_buttons())


async def go(ctx: Ctx, s: SetupState, arg: str) -> None:
    await ctx.go("framework")


async def edit(ctx: Ctx, s: SetupState, arg: str) -> None:
    if arg in VALUE_STEPS or arg == "nudges":
        await ctx.go(arg)


async def done(ctx: Ctx, s: SetupState, arg: str) -> None:
    ctx.finish()
    ctx.say("Settings saved.", menu_buttons())


async def skip(ctx: Ctx, s: SetupState, arg: str) -> None:
    await advance(ctx, s)


async def set_value(ctx: Ctx, s: SetupState, value: str) -> None:
    error = apply(ctx, ctx.step or "", value)
    if error:
        ctx.say(error)
        return
    await reschedule(ctx)  # a changed day, time, zone or date takes effect at once
    if s.mode == "settings":
        ctx.say("Saved.")
    await advance(ctx, s)


async def typed(ctx: Ctx, s: SetupState, text: str) -> None:
    if text.lower() in ("skip", "default", "later"):
        await advance(ctx, s)
        return
    await set_value(ctx, s, text)


def _value_step(ask: object) -> Step[SetupState]:
    return Step(ask, {"set": set_value, "skip": skip}, text=typed)  # type: ignore[arg-type]


VALUE_STEPS = {
    "framework": ask_framework,
    "stage": ask_stage,
    "day": ask_day,
    "time": ask_time,
    "tz": ask_tz,
    "appraisal": ask_appraisal,
    "model": ask_model,
    "quiet": ask_quiet,
}

FLOW = Flow(
    name="setup",
    label="set-up",
    state=SetupState,
    steps={
        "welcome": Step(ask_welcome, {"go": go, "defaults": finish}, keep=True),
        "pick": Step(ask_pick, {"edit": edit, "done": done}),
        **{name: _value_step(ask) for name, ask in VALUE_STEPS.items()},
        "nudges": Step(ask_nudges, {"toggle": toggle, "resume": resume, "skip": skip}),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("start", start, Kind.SWITCH)
    engine.command("settings", settings, Kind.SWITCH)
