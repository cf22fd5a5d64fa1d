"""Pydantic models for the framework data files (one per file kind)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
StageKey = Literal["fundamental", "1", "2", "3", "4"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Model):
    document: Text
    publisher: Text
    year: int | None  # as the source prints it; null when it prints none
    notice: Text
    seed: str | None = None


class FileHeader(_Model):
    id: Text
    kind: str
    title: Text
    short_title: Text
    year: int | None  # the year the source gives itself; null when it prints none
    draft: bool = False
    source: Source


class Stage(_Model):
    key: StageKey
    label: Text
    title: Text
    definition: list[Text] = Field(min_length=1)


class RatingLevel(_Model):
    level: int = Field(ge=1, le=5)
    label: Text


# --- MLF 2025 -----------------------------------------------------------------------


class MlfStages(_Model):
    fundamental: Text
    s1: Text = Field(alias="1")
    s2: Text = Field(alias="2")
    s3: Text = Field(alias="3")
    s4: Text = Field(alias="4")

    def get(self, key: str) -> str:
        return str(getattr(self, "fundamental" if key == "fundamental" else f"s{key}"))

    def items(self) -> list[tuple[str, str]]:
        return [(k, self.get(k)) for k in ("fundamental", "1", "2", "3", "4")]


class MlfCompetency(_Model):
    code: Text  # our numbering (the draft numbers nothing): see MlfFile.numbering_note
    key: Slug  # stable: a slug of the title, kept if the final edition renumbers or renames
    title: Text
    heading_in_source: str | None = None
    stages: MlfStages


class MlfStandard(_Model):
    code: Text
    key: Slug
    title: Text
    competencies: list[MlfCompetency] = Field(min_length=1)


class MlfArea(_Model):
    code: Text
    key: Slug
    title: Text
    introduction: list[Text]
    standards: list[MlfStandard] = Field(min_length=1)


class MlfValue(_Model):
    code: Text
    title: Text
    statement: Text


class MlfAdoption(_Model):
    """What the draft says about finalising and adopting the framework."""

    final_by: Text
    self_assessment_from: Text
    statements: list[Text] = Field(min_length=1)


class MlfFile(FileHeader):
    kind: Literal["mlf"]
    numbering_note: Text
    vision: Text
    mission: Text
    adoption: MlfAdoption
    rating_scale: list[RatingLevel] = Field(min_length=5, max_length=5)
    stages: list[Stage] = Field(min_length=5, max_length=5)
    value_stem: Text
    values: list[MlfValue]
    areas: list[MlfArea]


# --- LF 2011 ------------------------------------------------------------------------


class LfElement(_Model):
    code: Text
    title: Text
    summary: Text
    descriptors: list[Text] = Field(min_length=4, max_length=4)
    indicators: dict[Literal["1", "2", "3", "4"], Text] = Field(min_length=1)
    indicator_title: str | None = None


class LfDomain(_Model):
    code: Text
    title: Text
    introduction: Text  # ends "...effective in:"; the list that follows is the elements' summaries
    core: bool
    elements: list[LfElement] = Field(min_length=4, max_length=4)
    not_yet_demonstrating: list[Text] = Field(min_length=1)

    @property
    def full_text(self) -> str:
        """The domain's introduction with the list it introduces, as the source prints it."""
        return "\n".join([self.introduction, *(f"• {el.summary}" for el in self.elements)])


class LfDefinition(_Model):
    term: Text
    text: Text


class LfFile(FileHeader):
    kind: Literal["lf"]
    core_domains_note: Text
    definitions: list[LfDefinition] = Field(min_length=1)
    stages: list[Stage] = Field(min_length=4, max_length=4)
    domains: list[LfDomain]


# --- GMTS ---------------------------------------------------------------------------


class GmtsLevel(_Model):
    level: int = Field(ge=1, le=5)
    label: Text
    description: Text


class GmtsStatus(_Model):
    key: Literal["not_achieved", "partially_achieved", "achieved", "achieved_plus"]
    label: Text
    description: Text


class GmtsThresholds(_Model):
    end_of_year_one: float = Field(gt=0, le=1)
    end_of_scheme: float = Field(gt=0, le=1)
    text: Text


class GmtsCriteria(_Model):
    """One column of the criteria table for the personal-qualities reflective piece."""

    heading: Text
    items: list[Text] = Field(min_length=1)


class GmtsPersonalQualities(_Model):
    section: Text
    assessment: Literal["reflective_piece"]
    words: int
    tolerance: float
    statuses: list[Literal["achieved", "not_achieved"]]
    text: Text
    criteria: list[GmtsCriteria] = Field(min_length=1)
    sign_off: Text
    rule: Text


class GmtsSection(_Model):
    """A sub-heading of a domain (e.g. 3.2 Managing Resources). The specialist tables sometimes
    word it differently from the core table; both wordings are kept."""

    code: Annotated[str, StringConstraints(pattern=r"^[1-7]\.[1-4]$")]
    title: Text
    specialist_title: str | None = None


class GmtsDomain(_Model):
    code: Text
    title: Text
    sections: list[GmtsSection] = Field(min_length=1)


class GmtsCompetency(_Model):
    code: Annotated[str, StringConstraints(pattern=r"^[1-7]\.[1-4]\.\d{1,2}$")]
    id_suffix: str | None = None
    type: Literal["core", "specialist"]
    text: Text
    lf_element: Text
    hlm: list[str]
    target_level: int | None = Field(default=None, ge=1, le=5)
    examples: list[Text]

    @property
    def key(self) -> str:
        return self.id_suffix or self.code

    @property
    def section(self) -> str:
        """The sub-heading its code belongs to (the first two parts, e.g. 3.2)."""
        return self.code.rsplit(".", 1)[0]


class GmtsFile(FileHeader):
    kind: Literal["gmts"]
    levels: list[GmtsLevel] = Field(min_length=5, max_length=5)
    statuses: list[GmtsStatus] = Field(min_length=4, max_length=4)
    thresholds: GmtsThresholds
    target_levels_note: Text
    personal_qualities: GmtsPersonalQualities
    domains: list[GmtsDomain]
    competencies: list[GmtsCompetency]


# --- HLM, programmes, crosswalk -----------------------------------------------------


class HlmDimension(_Model):
    code: Text
    title: Text


class HlmFile(FileHeader):
    kind: Literal["hlm"]
    dimensions: list[HlmDimension] = Field(min_length=9, max_length=9)


class Programme(_Model):
    """A development programme or resource. Fields say what the sources say (null where they are
    silent) except ``audience``, ``stages``, ``develops``, ``positive_action`` and ``leadcoach_note``,
    which are LeadCoach's matching judgement and must be shown as ours."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    title: Text  # the name as LeadCoach shows it: ours where it differs from title_in_source
    title_in_source: Text  # the name as the source prints it, its spelling kept
    kind: Literal["programme", "course", "network", "coaching", "elearning", "tool", "method"]
    provider: Text
    description: Text
    audience: Text  # ours
    eligibility: Text | None  # who the source says it is for; None where it says nothing
    positive_action: bool  # ours (the product brief's term): only for an under-represented group
    stages: list[StageKey] = Field(min_length=1)  # ours
    format: Text | None
    duration: Text | None
    cost: Text | None
    courses: list[Text] = Field(default_factory=list)  # named courses, as the source lists them
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None
    develops: list[str] = Field(min_length=1)  # ours
    leadcoach_note: Text | None = None  # ours, and shown as ours
    # ours, from its audience: the professions it is for (a professional body); empty: anyone
    professions: list[Literal["nurse", "midwife", "ahp", "doctor", "manager", "other"]] = Field(default_factory=list)
    seed: Text
    status: Text
    source_date: Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}){0,2}$")] | None

    @property
    def free(self) -> bool:
        """The source says it costs nothing."""
        return (self.cost or "").lower() == "free"


class ProgrammesFile(FileHeader):
    kind: Literal["programmes"]
    entries: list[Programme]


class CrosswalkLink(_Model):
    from_: Text = Field(alias="from")
    to: Text
    rationale: Text


class CrosswalkFile(FileHeader):
    kind: Literal["crosswalk"]
    links: list[CrosswalkLink]


# --- guidance -----------------------------------------------------------------------


class GuidanceShare(_Model):
    """One part of a mix such as 70/20/10."""

    share: int = Field(ge=0, le=100)
    label: Text
    related: list[str] = Field(default_factory=list)  # catalogue ids to offer for this part


class GuidanceSource(_Model):
    section: Text
    quotes: list[Text] = Field(min_length=1)  # the source's exact words the guidance rests on


class Guidance(_Model):
    """A point from a source, in LeadCoach's own words (``text``), with LeadCoach's suggestion
    (``tip``, shown as ours) and the source's own words it rests on."""

    code: Slug
    title: Text
    text: Text
    tip: Text | None = None
    mix: list[GuidanceShare] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    keywords: list[Text] = Field(default_factory=list)  # extra words a lookup may match
    source: GuidanceSource

    @model_validator(mode="after")
    def _mix_adds_up(self) -> Guidance:
        if self.mix and sum(s.share for s in self.mix) != 100:
            raise ValueError("the shares of a mix must add up to 100")
        return self


class GuidanceFile(FileHeader):
    kind: Literal["guidance"]
    entries: list[Guidance] = Field(min_length=1)


AnyFile = MlfFile | LfFile | GmtsFile | HlmFile | ProgrammesFile | CrosswalkFile | GuidanceFile
FILE_MODELS: dict[str, type[FileHeader]] = {
    "mlf": MlfFile,
    "lf": LfFile,
    "gmts": GmtsFile,
    "hlm": HlmFile,
    "programmes": ProgrammesFile,
    "crosswalk": CrosswalkFile,
    "guidance": GuidanceFile,
}
