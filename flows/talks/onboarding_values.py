"""The settings /start and /settings change: a setter each, for what is tapped or typed, raising what is
wrong with a value; a reminder time inside the quiet hours goes to the clash step for the user to choose."""

from __future__ import annotations

from collections.abc import Callable

from flows.core.flow import Ctx, FlowError
from flows.rules.schedule import Quiet, hhmm
from flows.talks.common import DAYS, FRAMEWORKS, PROMPT_NAMES, parse_date, parse_time, valid_stage, valid_timezone
from flows.talks.onboarding_state import Setup, SetupState

# --- the settings: a setter each, raising what's wrong with a value ---------------------------------

CHOOSE = "Please choose one of the buttons."


def _framework(ctx: Ctx, s: SetupState, value: str) -> None:
    if value not in FRAMEWORKS:
        raise FlowError(CHOOSE)
    ctx.user.framework, ctx.user.stage = value, valid_stage(value, ctx.user.stage)


def _stage(ctx: Ctx, s: SetupState, value: str) -> None:
    stage = value.strip().lower()
    if ctx.catalogue.stage_entry(ctx.user.framework, stage) is None:
        raise FlowError("Please choose one of the stage buttons.")
    ctx.user.stage = stage


def _day(ctx: Ctx, s: SetupState, value: str) -> None:
    low = value.strip().lower()
    days = [d.lower() for d in DAYS]
    if low.isdigit():  # 1 is Monday, as the buttons are numbered
        day = int(low) - 1 if 1 <= int(low) <= 7 else None
    else:
        day = next((i for i, d in enumerate(days) if low and d.startswith(low[:3])), None)
    if day is None:
        raise FlowError("Please tap a day, or type one like Friday.")
    ctx.user.reflect_day = day


def _time(ctx: Ctx, s: SetupState, value: str) -> None:
    parsed = parse_time(value)
    if parsed is None:
        raise FlowError("I couldn't read that time. Try 18:15 or 6pm.")
    _weigh(ctx, s, Setup.TIME, parsed, (ctx.user.quiet_start, ctx.user.quiet_end))


def _quiet(ctx: Ctx, s: SetupState, value: str) -> None:
    if value.strip().lower() in ("off", "none", "no"):
        ctx.user.quiet_start = ctx.user.quiet_end = "00:00"
        return
    parts = [parse_time(p) for p in value.replace("–", "-").replace(" to ", "-").split("-")]
    if len(parts) != 2 or parts[0] is None or parts[1] is None:
        raise FlowError("I couldn't read those hours. Try 22:00-07:00, or tap one.")
    _weigh(ctx, s, Setup.QUIET, ctx.user.reflect_time, (parts[0], parts[1]))


def _weigh(ctx: Ctx, s: SetupState, step: Setup, time: str, quiet: tuple[str, str]) -> None:
    """Store the reminder time and quiet hours, unless the time falls in them: then the user chooses."""
    if Quiet(hhmm(quiet[0]), hhmm(quiet[1])).contains(hhmm(time)):
        s.clash, s.time, s.quiet = step, time, "-".join(quiet)
        return
    ctx.user.reflect_time, (ctx.user.quiet_start, ctx.user.quiet_end) = time, quiet


def _zone(ctx: Ctx, s: SetupState, value: str) -> None:
    zone = valid_timezone(value)
    if zone is None:
        raise FlowError("I don't know that time zone. Try a name like Europe/London or Europe/Dublin.")
    ctx.user.timezone = zone


def _appraisal(ctx: Ctx, s: SetupState, value: str) -> None:
    parsed = parse_date(value)
    if parsed is None:
        raise FlowError("I couldn't read that date. Try 14/03/2027.")
    if parsed < ctx.now.date():
        raise FlowError("That date has passed. Please give the date of your next appraisal, or skip.")
    ctx.user.appraisal_date = parsed


def _model(ctx: Ctx, s: SetupState, value: str) -> None:
    if value not in PROMPT_NAMES:
        raise FlowError(CHOOSE)
    ctx.user.prompt_model = value


SETTERS: dict[Setup, Callable[[Ctx, SetupState, str], None]] = {
    Setup.FRAMEWORK: _framework,
    Setup.STAGE: _stage,
    Setup.DAY: _day,
    Setup.TIME: _time,
    Setup.TZ: _zone,
    Setup.APPRAISAL: _appraisal,
    Setup.MODEL: _model,
    Setup.QUIET: _quiet,
}
