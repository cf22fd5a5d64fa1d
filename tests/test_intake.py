"""The identifier guard: what it flags, what it leaves alone, and how it removes what it found."""

from __future__ import annotations

from datetime import date

import pytest

from flows.core.intake import describe, find_identifiers, redact

TODAY = date(2026, 11, 25)

FLAGGED = [
    ("Patient 943 476 5919 was discharged late", "nhs_number", "943 476 5919"),
    ("NHS no 943-476-5919 on the form", "nhs_number", "943-476-5919"),
    ("his number is 9434765919.", "nhs_number", "9434765919"),
    ("DOB 03/04/1956, admitted Tuesday", "date_of_birth", "03/04/1956"),
    ("d.o.b. 3.4.56 on the notes", "date_of_birth", "3.4.56"),
    ("date of birth: 1956-04-03", "date_of_birth", "1956-04-03"),
    ("born on 3 April 1956 in Leeds", "date_of_birth", "3 April 1956"),
    ("born 3rd Apr 2019, so only seven", "date_of_birth", "3rd Apr 2019"),
    ("she was seen on April 3, 1956 apparently", "date_of_birth", "April 3, 1956"),
    ("the lady from 12/06/1948 ward list", "date_of_birth", "12/06/1948"),
    ("hospital number RXH1234567 was wrong", "hospital_number", "RXH1234567"),
    ("MRN: 00123456 on the wristband", "hospital_number", "00123456"),
    ("hosp no A12345 missing", "hospital_number", "A12345"),
    ("unit number 7654321", "hospital_number", "7654321"),
    ("case number X99887", "hospital_number", "X99887"),
    ("band K123456 on the bed", "hospital_number", "K123456"),
    ("Mr Patel complained at visiting", "titled_name", "Mr Patel"),
    ("Mrs. O'Brien was upset", "titled_name", "Mrs. O'Brien"),
    ("I spoke to Dr Jane Smith-Jones later", "titled_name", "Dr Jane Smith-Jones"),
    ("Ms Okafor and her son", "titled_name", "Ms Okafor"),
    ("Prof Khan agreed", "titled_name", "Prof Khan"),
    ("Sister Mary said no", "titled_name", "Sister Mary"),
]

CLEAN = [
    "I met the team on 14/03/2026 at 17:30 to agree the rota.",
    "We cut agency spend by £12,345 this quarter.",
    "What does stage 2 look like for conflict?",
    "The MLF 2025 draft has nine standards.",
    "Ward 7B had two vacancies.",
    "The 2024/25 budget is overspent.",
    "I am a Band 7 manager.",
    "Call me on ext 4567.",
    "Ring 0114 271 1900 for the bed bureau.",
    "The number 1234567890 fails the check.",
    "Competency 2.4.1 and element 3.2 both apply.",
    "The NHS111 service and the B12 clinic and the M62.",
    "Dr said nothing, and mr smith is lowercase.",
    "Our Nurse Practitioner and the Nurse Consultant covered.",
    "A deadline of 1 December 2026 for the business case.",
    "Review on 2025-09-30 went well.",
    "I completed ST3 and the ILM level 5 course.",
    "Over 35 hours in 3 years, 20 participatory.",
]


@pytest.mark.parametrize(("text", "kind", "found"), FLAGGED)
def test_flags(text: str, kind: str, found: str) -> None:
    findings = find_identifiers(text, TODAY)
    assert [(f.kind, f.text) for f in findings] == [(kind, found)]
    assert text[findings[0].start : findings[0].end] == found


@pytest.mark.parametrize("text", CLEAN)
def test_leaves_ordinary_writing_alone(text: str) -> None:
    assert find_identifiers(text, TODAY) == []


def test_redact_removes_everything_and_is_idempotent() -> None:
    text = "Mrs Patel (NHS 943 476 5919, DOB 03/04/1956, MRN RXH1234567) fell on the ward."
    once = redact(text, find_identifiers(text, TODAY))
    assert once == "[removed] (NHS [removed], DOB [removed], MRN [removed]) fell on the ward."
    assert redact(once) == once and find_identifiers(once, TODAY) == []


def test_describe_names_each_kind_once() -> None:
    text = "Mr Patel, Mrs Khan and 943 476 5919"
    assert describe(find_identifiers(text, TODAY)) == "a name with a title and an NHS number"
    assert describe(find_identifiers("DOB 1/2/1950", TODAY)) == "a date of birth"
    three = find_identifiers("Dr Who 943 476 5919 MRN 1234567", TODAY)
    assert describe(three) == "a name with a title, an NHS number and a hospital number"
