"""Programmes and resources: only what the sources say, with LeadCoach's own judgement kept apart."""

from __future__ import annotations

import os
import re

import pytest

from frameworks.catalogue import Catalogue
from frameworks.loader import DATA_DIR
from frameworks.schema import Programme
from tests.test_frameworks_data import SEEDS, _norm

SOURCE_DATES = {"003": "2018-03", "000": "2011", "004": None}  # the dates the documents give themselves


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    if not SEEDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"source documents not found at {SEEDS}")
        pytest.skip("shared/seeds not beside the checkout")
    return {p.name[:3]: _norm(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}


@pytest.fixture(scope="module")
def progs(catalogue: Catalogue) -> dict[str, Programme]:
    return {p.code: p for p in catalogue.programmes.entries}


def test_every_url_is_absolute_and_every_date_is_the_sources(catalogue: Catalogue) -> None:
    for p in catalogue.programmes.entries:
        assert p.url is None or re.match(r"https?://[a-z0-9.-]+\.[a-z]{2,}/", p.url), p.code
        assert p.source_date == SOURCE_DATES[p.seed[:3]], p.code
    assert "last_checked" not in (DATA_DIR / "programmes.yaml").read_text(encoding="utf-8")


def test_addresses_are_as_printed(catalogue: Catalogue, sources: dict[str, str]) -> None:
    for p in catalogue.programmes.entries:
        if p.url:
            assert _norm(p.url.split("://", 1)[1]) in sources[p.seed[:3]], p.code


def test_eligibility_quotes_the_source(catalogue: Catalogue, sources: dict[str, str]) -> None:
    with_eligibility = [p for p in catalogue.programmes.entries if p.eligibility]
    assert len(with_eligibility) == 7
    for p in with_eligibility:
        assert p.eligibility is not None
        for part in p.eligibility.split("; "):
            assert _norm(part) in sources[p.seed[:3]], (p.code, part)


def test_positive_action_programmes_say_who_they_are_for(progs: dict[str, Programme]) -> None:
    positive = {code for code, p in progs.items() if p.positive_action}
    assert positive == {"stepping-up", "ready-now"}
    assert all(progs[c].eligibility and "BAME" in (progs[c].eligibility or "") for c in positive)


def test_claims_the_sources_do_not_make_are_gone(progs: dict[str, Programme]) -> None:
    seacole = progs["mary-seacole"]
    assert "first" not in f"{seacole.description} {seacole.eligibility or ''}".lower()
    assert progs["fmlm"].cost is None
    assert progs["kings-fund-courses"].cost is None
    assert "Health Education England" not in progs["lead-elearning"].provider
    assert "HEE" not in progs["lead-elearning"].provider
    assert "most senior" not in progs["ready-now"].description
    # what the sources do say about cost and duration is kept
    assert {c for c, p in progs.items() if p.free} == {"edward-jenner", "coaching-register", "lead-elearning"}
    assert seacole.duration == "Six months"


def test_lf_tools_signpost_for_each_of_the_seven_domains(progs: dict[str, Programme], sources: dict[str, str]) -> None:
    tools = progs["lf-self-assessment-360"]
    assert "each of the seven domains" in tools.description and "each element" not in tools.description
    assert "development opportunities for each of the seven domains" in sources["000"]


def test_faculty_url_from_the_source(progs: dict[str, Programme]) -> None:
    assert progs["faculty-leadership-management"].url == "https://www.leadershipacademy.nhs.uk/about/our-faculty/"


def test_kings_fund_courses_are_all_listed(progs: dict[str, Programme], sources: dict[str, str]) -> None:
    kf = progs["kings-fund-courses"]
    assert len(kf.courses) == 4
    assert all(_norm(c) in sources["003"] for c in kf.courses)
    assert "independent health care sector" in kf.description
    assert "independent health care sector" in kf.courses[-1]


def test_business_process_re_engineering(catalogue: Catalogue, sources: dict[str, str]) -> None:
    bpr = catalogue.get("programmes.business-process-re-engineering")
    assert bpr.kind == "programme" and bpr.title == "Business Process Re-engineering"
    assert "business process re-engineering" in sources["004"]
    methods = [p for p in catalogue.programmes.entries if p.kind == "method"]
    assert len(methods) == 8
    for m in methods:
        # the source only names the method: our explanation of it is marked as ours
        assert m.leadcoach_note and m.format is None
        assert "Developing People – Improving Care" in m.description


def test_names_are_quoted_as_the_source_prints_them(
    catalogue: Catalogue, sources: dict[str, str], progs: dict[str, Programme]
) -> None:
    """The source's own spelling is kept in ``title_in_source`` (ours, corrected, in ``title``)."""
    for p in catalogue.programmes.entries:
        assert _norm(p.title_in_source) in sources[p.seed[:3]], p.code
    by_code = progs
    assert by_code["elizabeth-garrett-anderson"].title_in_source == "The Elizabeth Garret Anderson programme"
    assert by_code["experience-based-co-design"].title_in_source == "Experienced-based Co-design"
    assert not any("Health Foundation" in p.provider for p in catalogue.programmes.entries)
