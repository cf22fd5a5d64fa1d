"""/start onboarding and /settings: framework, stage, day, time, time zone, appraisal date."""

from __future__ import annotations

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
from flows.engine import Ctx, Engine, Flow
from flows.replies import Button
from flows.templating import render

SKIP = Button("Skip (keep default)", "skip")
STEPS = ["framework", "stage", "day", "time", "tz", "appraisal"]
TIMES = ["08:00", "12:30", "17:30", "20:00"]


async def start(ctx: Ctx, args: str) -> None:
    ctx.goto("setup", "welcome", mode="onboard")
    ctx.say(
        render("welcome", name=ctx.user.first_name or ""),
        [[Button("Set up (1 minute)", "go")], [Button("Use the defaults", "defaults")]],
    )


async def settings(ctx: Ctx, args: str) -> None:
    ctx.goto("setup", "pick", mode="settings")
    ctx.say(
        summary(ctx),
        [
            [Button("Framework", "edit", "framework"), Button("Stage", "edit", "stage")],
            [Button("Reminder day", "edit", "day"), Button("Reminder time", "edit", "time")],
            [Button("Time zone", "edit", "tz"), Button("Appraisal date", "edit", "appraisal")],
            [Button("Reflection prompts", "edit", "model"), Button("Done", "done")],
        ],
    )


def summary(ctx: Ctx) -> str:
    u = ctx.user
    return render(
        "settings",
        framework=FRAMEWORKS.get(u.framework, u.framework),
        stage=stage_label(ctx.catalogue, u.framework, u.stage),
        day=DAYS[u.reflect_day],
        time=u.reflect_time,
        tz=u.timezone,
        appraisal=u.appraisal_date.strftime("%d %B %Y") if u.appraisal_date else "not set",
        model=PROMPT_NAMES[u.prompt_model],
    )


async def ask(ctx: Ctx, step: str) -> None:
    ctx.state.step = step
    u = ctx.user
    if step == "framework":
        ctx.say(
            "Which framework would you like to work with?",
            [[Button(label, "set", fw)] for fw, label in FRAMEWORKS.items()] + [[SKIP]],
        )
    elif step == "stage":
        options = ctx.catalogue.of_kind(u.framework, "stage")
        lines = [f"<b>{e.title}</b> — {first_sentence(e.text)}" for e in options]
        ctx.say(
            "Which stage fits your role best?\n\n" + "\n".join(lines),
            [*chunks([Button(e.title.split(":")[0], "set", e.stage or "") for e in options], 3), [SKIP]],
        )
    elif step == "day":
        ctx.say(
            "Which day would you like your weekly reflection reminder?",
            [*chunks([Button(d[:3], "set", str(i)) for i, d in enumerate(DAYS)], 4), [SKIP]],
        )
    elif step == "time":
        ctx.say("What time? Tap one or type a time like 18:15.", [[Button(t, "set", t) for t in TIMES], [SKIP]])
    elif step == "tz":
        ctx.say(
            f"Your time zone is {u.timezone}. Keep it, or type another (for example Europe/Dublin).",
            [[Button(f"Keep {u.timezone}", "set", u.timezone)], [SKIP]],
        )
    elif step == "appraisal":
        ctx.say("When is your next appraisal? Type a date like 14/03/2027, or skip.", [[SKIP]])
    elif step == "model":
        ctx.say(
            "Which reflection prompts do you prefer?",
            [[Button(name, "set", key)] for key, name in PROMPT_NAMES.items()] + [[SKIP]],
        )


def first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "."


def apply(ctx: Ctx, step: str, value: str) -> str | None:
    """Store one answer; return an error message if it isn't valid."""
    u = ctx.user
    if step == "framework":
        if value not in FRAMEWORKS:
            return "Please choose one of the buttons."
        u.framework = value
        u.stage = valid_stage(value, u.stage)
    elif step == "stage":
        if ctx.catalogue.stage_entry(u.framework, value) is None:
            return "Please choose one of the stage buttons."
        u.stage = value
    elif step == "day":
        names = [d.lower() for d in DAYS]
        low = value.strip().lower()
        idx = (
            int(value)
            if value.isdigit() and int(value) < 7
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
        parsed_date = parse_date(value)
        if parsed_date is None:
            return "I couldn't read that date. Try 14/03/2027."
        if parsed_date < ctx.now.date():
            return "That date has passed. Please give the date of your next appraisal, or skip."
        u.appraisal_date = parsed_date
    elif step == "model":
        if value not in PROMPT_NAMES:
            return "Please choose one of the buttons."
        u.prompt_model = value
    return None


async def advance(ctx: Ctx) -> None:
    step = ctx.state.step or ""
    if ctx.state.data.get("mode") == "settings":
        ctx.say("Saved.")
        await settings(ctx, "")
        return
    nxt = STEPS.index(step) + 1 if step in STEPS else len(STEPS)
    if nxt < len(STEPS):
        await ask(ctx, STEPS[nxt])
    else:
        await finish(ctx)


async def finish(ctx: Ctx) -> None:
    ctx.user.onboarded = True
    ctx.finish()
    ctx.say("You're all set.\n\n" + summary(ctx) + "\n\nChange any of this with /settings. What next?", menu_buttons())


async def on_click(ctx: Ctx, action: str, arg: str) -> None:
    step = ctx.state.step or ""
    if action == "go":
        await ask(ctx, "framework")
    elif action == "defaults":
        await finish(ctx)
    elif action == "edit":
        ctx.state.data["mode"] = "settings"
        await ask(ctx, arg)
    elif action == "done":
        ctx.finish()
        ctx.say("Settings saved.", menu_buttons())
    elif action == "skip":
        await advance(ctx)
    elif action == "set":
        await _answer(ctx, step, arg)


async def on_text(ctx: Ctx, text: str) -> None:
    step = ctx.state.step or ""
    if step in ("welcome", "pick"):
        ctx.say("Please use the buttons above, or send /menu.")
        return
    if text.lower() in ("skip", "default", "later"):
        await advance(ctx)
        return
    await _answer(ctx, step, text)


async def _answer(ctx: Ctx, step: str, value: str) -> None:
    error = apply(ctx, step, value)
    if error:
        ctx.say(error)
    else:
        await advance(ctx)


async def resume(ctx: Ctx) -> None:
    step = ctx.state.step or "welcome"
    if step == "welcome":
        await start(ctx, "")
    elif step == "pick":
        await settings(ctx, "")
    else:
        await ask(ctx, step)


def register(engine: Engine) -> None:
    engine.flow(Flow("setup", on_text, on_click, resume))
    engine.command("start", start)
    engine.command("settings", settings)
