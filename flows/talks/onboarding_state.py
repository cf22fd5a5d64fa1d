"""The steps of /start and /settings and their stored state."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from flows.core.flow import FlowState

TIMES = ["08:00", "12:30", "17:30", "20:00"]
TZ_EXAMPLE = "(for example Europe/Dublin)"
NUDGE_KINDS = {
    "nudge_reflection": "Weekly reflection reminder",
    "nudge_appraisal": "Appraisal countdown",
    "nudge_cpd": "CPD pace check",
}


class Setup(StrEnum):
    """The steps of /start and /settings."""

    WELCOME = "welcome"
    PICK = "pick"
    FRAMEWORK = "framework"
    STAGE = "stage"
    DAY = "day"
    TIME = "time"
    TZ = "tz"
    APPRAISAL = "appraisal"
    MODEL = "model"
    QUIET = "quiet"
    NUDGES = "nudges"
    CLASH = "clash"  # the reminder time falls in the quiet hours: which gives way?


ONBOARDING = [Setup.FRAMEWORK, Setup.STAGE, Setup.DAY, Setup.TIME, Setup.TZ, Setup.APPRAISAL]


class SetupState(FlowState):
    schema_version = 2  # 2: the clash fields; day buttons count from 1; actions renamed
    mode: Literal["onboard", "settings"] = "onboard"
    clash: str = ""  # the step whose answer clashed: "time" or "quiet"
    time: str = ""  # the reminder time and quiet hours ("21:00-08:00") that clash, not yet stored
    quiet: str = ""
