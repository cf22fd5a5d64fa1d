"""Patient identifiers in free text: what the coach warns about before it stores anything typed.

Rules, chosen to catch identifiers while leaving managers' ordinary writing alone:

- **NHS number**: ten digits, optionally spaced or hyphenated 3-3-4, passing the modulus 11 check.
- **Date of birth**: a full date (day, month and year, in figures or words) introduced as a birth date
  ("DOB", "D.O.B.", "date of birth", "born on/in", "b."), or any full date 16 or more years before
  today (meetings, rotas and deadlines are recent; a date decades ago is almost always someone's birth).
- **Hospital number / MRN**: a cue ("hospital number", "hosp no", "MRN", "unit number", "patient
  number", "case number", "RTT") followed by an id of 5+ letters and digits with at least 4 digits; or,
  without a cue, 1-3 capital letters followed directly by 6-8 digits ("RXH1234567", "K123456").
  Short codes such as "MLF2025", "NHS111", "B12" or "ST3" have too few digits to match.
- **Titled name**: Mr, Mrs, Ms, Miss, Mx, Dr, Prof, Professor, Sister or Nurse (with or without a full
  stop) followed by one or two capitalised words ("Mrs O'Brien", "Dr Jane Smith-Jones").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_REMOVED = "[removed]"
_NHS = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = (
    rf"(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTHS})\.?,?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MONTHS})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2})"
    r"|(?P<d4>\d{1,2})[/.-](?P<m4>\d{1,2})[/.-](?P<y4>\d{2}(?:\d{2})?))"
)
_DATES = re.compile(rf"(?<![\w/.-]){_DATE}(?![\w/-]|\.\d)", re.IGNORECASE)
_BIRTH_CUE = re.compile(
    r"(?:\bd\.?\s?o\.?\s?b\.?|\bdate\s+of\s+birth|\bborn(?:\s+(?:on|in))?|\bb\.)\s*[:\-]?\s*$", re.IGNORECASE
)
_HOSPITAL_CUED = re.compile(
    r"\b(?:hospital\s+(?:no\.?|number)|hosp\.?\s+no\.?|mrn|unit\s+(?:no\.?|number)|patient\s+(?:no\.?|number)"
    r"|case\s+(?:no\.?|number)|rtt)\s*[:#]?\s*(?P<id>(?=(?:[A-Za-z]*\d){4})[A-Za-z0-9]{5,})",
    re.IGNORECASE,
)
_HOSPITAL_BARE = re.compile(r"(?<![\w])[A-Z]{1,3}\d{6,8}(?![\w])")
_ROLES = "Practitioner|Manager|Lead|Specialist|Consultant|Associate|Director|Educator|Champion|Bank|Agency"
_TITLED = re.compile(
    r"\b(?:Mrs|Mr|Ms|Miss|Mx|Dr|Prof|Professor|Sister|Nurse)\.?\s+"
    rf"(?!(?:{_ROLES})\b)[A-Z][a-zA-Z'’-]+(?:\s+[A-Z][a-zA-Z'’-]+)?(?![\w'’-])"
)
_MONTH_NUMBER = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_NAMES = {
    "nhs_number": "an NHS number",
    "date_of_birth": "a date of birth",
    "hospital_number": "a hospital number",
    "titled_name": "a name with a title",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def find_identifiers(text: str, today: date | None = None) -> list[Finding]:
    """Every apparent identifier, by position, without overlaps (the earlier, longer one wins)."""
    found = _nhs_numbers(text) + _birth_dates(text, today or date.today()) + _hospital_numbers(text)
    found += [Finding("titled_name", m.start(), m.end(), m.group(0)) for m in _TITLED.finditer(text)]
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept


def describe(findings: list[Finding]) -> str:
    """What was found, for a warning: "an NHS number and a name with a title"."""
    kinds = [_NAMES[k] for k in dict.fromkeys(f.kind for f in findings)]
    if len(kinds) <= 1:
        return kinds[0] if kinds else "nothing identifying"
    return ", ".join(kinds[:-1]) + " and " + kinds[-1]


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """Replace every finding with "[removed]"."""
    for f in sorted(findings if findings is not None else find_identifiers(text), key=lambda f: -f.start):
        text = text[: f.start] + _REMOVED + text[f.end :]
    return text


def _nhs_numbers(text: str) -> list[Finding]:
    out = []
    for m in _NHS.finditer(text):
        digits = "".join(m.groups())
        total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10 and check == int(digits[9]):
            out.append(Finding("nhs_number", m.start(), m.end(), m.group(0)))
    return out


def _birth_dates(text: str, today: date) -> list[Finding]:
    out = []
    for m in _DATES.finditer(text):
        when = _as_date(m)
        if when is None:
            continue
        cued = _BIRTH_CUE.search(text[max(0, m.start() - 20) : m.start()]) is not None
        if cued or when <= today.replace(year=today.year - 16, day=min(today.day, 28)):
            out.append(Finding("date_of_birth", m.start(), m.end(), m.group(0)))
    return out


def _as_date(m: re.Match[str]) -> date | None:
    for i in "1234":
        if m.group(f"y{i}"):
            day, month, year = m.group(f"d{i}"), m.group(f"m{i}"), m.group(f"y{i}")
            break
    number = int(month) if month.isdigit() else _MONTH_NUMBER[month[:3].lower()]
    full = int(year) + (1900 if len(year) == 2 and int(year) > 30 else 2000 if len(year) == 2 else 0)
    try:
        return date(full, number, int(day))
    except ValueError:
        return None


def _hospital_numbers(text: str) -> list[Finding]:
    out = [Finding("hospital_number", m.start("id"), m.end("id"), m.group("id")) for m in _HOSPITAL_CUED.finditer(text)]
    out += [Finding("hospital_number", m.start(), m.end(), m.group(0)) for m in _HOSPITAL_BARE.finditer(text)]
    return out
