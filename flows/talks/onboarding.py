"""/start onboarding and /settings: framework, stage, day, time, time zone, appraisal date, prompts, nudges
and quiet hours. Each setting is a declared step: a prompt, its buttons (from the user's settings alone) and
a setter for what is tapped or typed; a reminder time inside the quiet hours is put to the user to choose."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from flows.core.engine import Engine
from flows.core.flow import Action, Ctx, Flow, Kind, Prompt, Rows, Step
from flows.core.replies import Button
from flows.core.templating import render
from flows.rules.schedule import aware, make_room
from flows.talks import rating360
from flows.talks.common import (
    DAYS,
    FRAMEWORKS,
    PROMPT_NAMES,
    chunks,
    menu_buttons,
    stage_label,
)
from flows.talks.nudges import reschedule
from flows.talks.onboarding_state import NUDGE_KINDS, ONBOARDING, TIMES, TZ_EXAMPLE, Setup, SetupState
from flows.talks.onboarding_values import SETTERS
from flows.talks.share import open_share


async def start(ctx: Ctx, args: str) -> None:
    if rating360.is_invitation(args):  # a colleague's 360° feedback link: no onboarding
        await rating360.open_invitation(ctx, args)
        return
    if args.startswith("pack_"):  # an appraiser opening a share link: the pack, no onboarding
        await open_share(ctx, args.removeprefix("pack_").strip())
        return
    if ctx.user.onboarded:
        name = f", {ctx.user.first_name}" if ctx.user.first_name else ""
        ctx.say(f"Welcome back{name}. You're set up already; /settings changes anything.", menu_buttons())
        return
    await ctx.start("setup", SetupState(), Setup.WELCOME)


async def settings(ctx: Ctx, args: str) -> None:
    await ctx.start("setup", SetupState(mode="settings"), Setup.PICK)


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
        quiet=_hours(u.quiet_start, u.quiet_end),
        paused=u.paused_until.astimezone(ZoneInfo(u.timezone)).strftime("%d %B %Y")
        if paused and u.paused_until
        else "",
    )


def _hours(start: str, end: str) -> str:
    return f"{start}–{end}" if start != end else "off"


# --- moving on ------------------------------------------------------------------------------------


async def advance(ctx: Ctx, s: SetupState, arg: str = "") -> None:
    """After a step (answered or skipped): back to the list in /settings, the next question in /start."""
    answered = s.clash if ctx.step == Setup.CLASH else ctx.step
    s.clash = s.time = s.quiet = ""
    if s.mode == "settings":
        await ctx.go(Setup.PICK)
        return
    nxt = ONBOARDING.index(Setup(answered)) + 1 if answered in ONBOARDING else len(ONBOARDING)
    if nxt < len(ONBOARDING):
        await ctx.go(ONBOARDING[nxt])
    else:
        await finish(ctx, s, "")


async def finish(ctx: Ctx, s: SetupState, arg: str) -> None:
    """The end: of onboarding (its defaults kept for what was skipped), or "Done" in /settings."""
    ctx.finish()
    if s.mode == "settings":
        ctx.say("Settings saved.", menu_buttons())
        return
    ctx.user.onboarded = True
    await reschedule(ctx)
    ctx.say("You're all set.\n\n" + summary(ctx) + "\n\nChange any of this with /settings. What next?", menu_buttons())


async def edit(ctx: Ctx, s: SetupState, arg: str) -> None:
    """Open a setting ("Set up" opens the first)."""
    if arg in SETTERS or arg == Setup.NUDGES:
        await ctx.go(arg)


async def set_value(ctx: Ctx, s: SetupState, value: str) -> None:
    """A value tapped or typed: stored (and the nudges rescheduled); a setter raises what's wrong with it."""
    s.clash = s.time = s.quiet = ""
    SETTERS[Setup(ctx.step or "")](ctx, s, value)
    if s.clash:
        await ctx.go(Setup.CLASH)
        return
    await _saved(ctx, s)


async def _saved(ctx: Ctx, s: SetupState) -> None:
    await reschedule(ctx)  # a changed day, time, zone or date takes effect at once
    if s.mode == "settings":
        ctx.say("Saved.")
    await advance(ctx, s)


# --- the steps' prompts and buttons, from the user's settings alone -----------------------------------


def _skip(s: SetupState) -> list[Button]:
    return [Button("Skip (keep default)", "skip")] if s.mode == "onboard" else [Button("Back", "skip")]


def _setting(
    prompt: Prompt[SetupState] | str,
    options: Callable[[Ctx], list[Button]],
    *,
    width: int = 1,
    typed: bool = True,
    numeric: bool = True,
) -> Step[SetupState]:
    """A setting's step: its ``options`` (``set`` buttons) and Skip or Back. ``typed``: other text is a
    value to read (a time, a date, a zone); without it, typed text can only name a button. ``numeric``:
    a typed number is a value (stage 3, 18:00), not the number of a button."""

    def buttons(ctx: Ctx, s: SetupState) -> Rows:
        return [*chunks(options(ctx), width), _skip(s)]

    actions: dict[str, Action[SetupState]] = {"set": set_value, "skip": advance}
    return Step(prompt, buttons, actions, text=set_value if typed else None, numeric=typed and numeric)


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "."


def _stage_prompt(ctx: Ctx, s: SetupState) -> str:
    lines = [
        f"<b>{e.title}</b> — {_first_sentence(e.text)}" for e in ctx.catalogue.of_kind(ctx.user.framework, "stage")
    ]
    return "Which stage fits your role best?\n\n" + "\n".join(lines)


def _stages(ctx: Ctx) -> list[Button]:
    return [
        Button(e.title.split(":")[0], "set", e.stage or "") for e in ctx.catalogue.of_kind(ctx.user.framework, "stage")
    ]


def _quiet_prompt(ctx: Ctx, s: SetupState) -> str:
    now = _hours(ctx.user.quiet_start, ctx.user.quiet_end)
    return f"Quiet hours: {now}. A nudge due then waits until they end. Tap one or type hours like 22:00-07:00."


def _quiet_options(ctx: Ctx) -> list[Button]:
    hours = [Button(f"{a}–{b}", "set", f"{a}-{b}") for a, b in (("21:00", "08:00"), ("22:00", "07:00"))]
    return [*hours, Button("No quiet hours", "set", "off")]


NUDGES_PROMPT = (
    "Which nudges would you like? Tap to turn one on or off.\n"
    "• Weekly reflection: on your reminder day and time, only if you haven't reflected that week.\n"
    "• Appraisal countdown: about 6 weeks, 2 weeks and 3 days before your appraisal.\n"
    "• CPD pace: at most once a month, only when you're behind a /cpd target.\n"
    "Never more than one nudge a day, and none in your quiet hours."
)


def _nudge_buttons(ctx: Ctx, s: SetupState) -> Rows:
    u = ctx.user
    rows = [[Button(("✓ " if getattr(u, key) else "✗ ") + label, "toggle", key)] for key, label in NUDGE_KINDS.items()]
    if u.paused_until is not None and aware(u.paused_until) > ctx.now:
        rows.append([Button("Resume nudges now", "toggle", "paused")])
    return [*rows, [Button("Back", "skip")]]


async def toggle(ctx: Ctx, s: SetupState, key: str) -> None:
    """Turn a kind of nudge on or off, or end a pause."""
    if key in NUDGE_KINDS:
        setattr(ctx.user, key, not getattr(ctx.user, key))
    elif key == "paused" and ctx.user.paused_until is not None:
        ctx.user.paused_until = None
        ctx.say("Nudges resumed.")
    await reschedule(ctx)
    await ctx.go(Setup.NUDGES)


# --- a reminder time inside the quiet hours ---------------------------------------------------------


def _clash_prompt(ctx: Ctx, s: SetupState) -> str:
    start, end = s.quiet.split("-")
    if s.clash == Setup.TIME:
        said = f"{s.time} is in your quiet hours ({start}–{end})"
    else:
        said = f"Your weekly reminder at {s.time} falls in those quiet hours ({start}–{end})"
    return f"{said}, when I send no nudges, so it would wait until {end}. Which would you like?"


def _clash_buttons(ctx: Ctx, s: SetupState) -> Rows:
    start, end = s.quiet.split("-")
    again = "Choose another time" if s.clash == Setup.TIME else "Choose other quiet hours"
    return [
        [Button(f"Keep {s.time}, quiet hours {_hours(*make_room(start, end, s.time))}", "resolve", "room")],
        [Button(f"Remind me at {end}", "resolve", "end")],
        [Button(again, "edit", s.clash)],
    ]


async def resolve(ctx: Ctx, s: SetupState, arg: str) -> None:
    """Keep the reminder time and make room for it in the quiet hours, or remind when they end."""
    start, end = s.quiet.split("-")
    if arg == "room":
        (start, end), time = make_room(start, end, s.time), s.time
    else:
        time = end
    ctx.user.reflect_time, ctx.user.quiet_start, ctx.user.quiet_end = time, start, end
    await _saved(ctx, s)


FLOW = Flow(
    name="setup",
    label="set-up",
    state=SetupState,
    names=Setup,
    steps={
        Setup.WELCOME: Step(
            lambda ctx, s: render("welcome", name=ctx.user.first_name or ""),
            lambda ctx, s: [
                [Button("Set up (1 minute)", "edit", Setup.FRAMEWORK)],
                [Button("Use the defaults", "done")],
            ],
            {"edit": edit, "done": finish},
            keep=True,
        ),
        Setup.PICK: Step(
            lambda ctx, s: summary(ctx),
            lambda ctx, s: [
                [Button("Framework", "edit", Setup.FRAMEWORK), Button("Stage", "edit", Setup.STAGE)],
                [Button("Reminder day", "edit", Setup.DAY), Button("Reminder time", "edit", Setup.TIME)],
                [Button("Time zone", "edit", Setup.TZ), Button("Appraisal date", "edit", Setup.APPRAISAL)],
                [Button("Nudges", "edit", Setup.NUDGES), Button("Quiet hours", "edit", Setup.QUIET)],
                [Button("Reflection prompts", "edit", Setup.MODEL), Button("Done", "done")],
            ],
            {"edit": edit, "done": finish},
        ),
        Setup.FRAMEWORK: _setting(
            "Which framework would you like to work with?",
            lambda ctx: [Button(label, "set", fw) for fw, label in FRAMEWORKS.items()],
            typed=False,
        ),
        Setup.STAGE: _setting(_stage_prompt, _stages, width=3),
        Setup.DAY: _setting(
            "Which day would you like your weekly reflection reminder?",
            lambda ctx: [Button(d[:3], "set", str(i + 1)) for i, d in enumerate(DAYS)],
            width=4,
        ),
        Setup.TIME: _setting(
            "What time? Tap one or type a time like 18:15.",
            lambda ctx: [Button(t, "set", t) for t in TIMES],
            width=4,
        ),
        Setup.TZ: _setting(
            lambda ctx, s: f"Your time zone is {ctx.user.timezone}. Keep it, or type another {TZ_EXAMPLE}.",
            lambda ctx: [Button(f"Keep {ctx.user.timezone}", "set", ctx.user.timezone)],
        ),
        Setup.APPRAISAL: _setting("When is your next appraisal? Type a date like 14/03/2027, or skip.", lambda ctx: []),
        Setup.MODEL: _setting(
            "Which reflection prompts do you prefer?",
            lambda ctx: [Button(name, "set", key) for key, name in PROMPT_NAMES.items()],
            typed=False,
        ),
        Setup.QUIET: _setting(_quiet_prompt, _quiet_options, width=2, numeric=False),
        Setup.NUDGES: Step(NUDGES_PROMPT, _nudge_buttons, {"toggle": toggle, "skip": advance}),
        Setup.CLASH: Step(
            _clash_prompt,
            _clash_buttons,
            {"resolve": resolve, "edit": edit},
            screen=lambda s: f"{s.clash}/{s.time}/{s.quiet}",
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("start", start, Kind.SWITCH)
    engine.command("settings", settings, Kind.SWITCH)
