"""The crosswalk: every link has a reason and joins existing items, at the level its reason names."""

from __future__ import annotations

import re

from frameworks.catalogue import Catalogue

_NAMED = re.compile(r"\((MLF|LF) (\d\.\d)\)|\b(MLF|LF) (\d\.\d)\b")
_PREFIX = {"MLF": "mlf2025", "LF": "lf2011"}


def _pairs(catalogue: Catalogue) -> set[tuple[str, str]]:
    return {(link.from_, link.to) for link in catalogue.crosswalk.links}


def test_every_link_has_a_reason_and_existing_ends(catalogue: Catalogue) -> None:
    links = catalogue.crosswalk.links
    assert len(links) >= 50
    for link in links:
        assert len(link.rationale.split()) >= 4, link
        assert link.rationale.endswith("."), link
        assert link.from_ in catalogue.by_id and link.to in catalogue.by_id, link
        assert link.from_.split(".")[0] != link.to.split(".")[0], link  # links join two frameworks
        assert "@" not in link.from_ + link.to  # items, not stage statements
    assert len(_pairs(catalogue)) == len(links)  # no link twice
    assert not {(b, a) for a, b in _pairs(catalogue)} & _pairs(catalogue)  # nor both ways


def test_links_are_at_the_level_their_reason_names(catalogue: Catalogue) -> None:
    for link in catalogue.crosswalk.links:
        for m in _NAMED.finditer(link.rationale):
            fw, code = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            named = f"{_PREFIX[fw]}.{code}"
            assert named in (link.from_, link.to), f"{link.rationale!r} names {named} but links {link.from_}->{link.to}"


def test_weak_links_are_gone_and_missing_ones_added(catalogue: Catalogue) -> None:
    def linked(a: str, b: str) -> bool:
        """Some link joins a (or one of its competencies/elements) to b (or one of its elements)."""
        return any(
            (f == a or f.startswith(a + ".")) and (t == b or t.startswith(b + "."))
            for f, t in _pairs(catalogue) | {(t, f) for f, t in _pairs(catalogue)}
        )

    pairs = _pairs(catalogue)
    assert ("mlf2025.5", "lf2011.5") not in pairs
    assert ("mlf2025.7", "hlm.2") not in pairs
    assert ("mlf2025.9", "lf2011.6") not in pairs
    assert not linked("mlf2025.5", "lf2011.5")
    assert not linked("mlf2025.7", "hlm.2")
    assert linked("mlf2025.4", "hlm.2")
    assert linked("mlf2025.1", "hlm.2")
    assert linked("mlf2025.9", "hlm.6")


def test_related_finds_element_links_from_either_side(catalogue: Catalogue) -> None:
    reasons = {link.target: link.rationale for link in catalogue.related("mlf2025.5.3@2")}
    assert "conflict" in reasons["lf2011.2.3"]
    back = {link.target for link in catalogue.related("lf2011.3.4")}
    assert {"mlf2025.5.2", "mlf2025.5.3", "hlm.7"} <= back
    # a GMTS competency reaches the links of its LF element
    gmts = {link.target for link in catalogue.related("gmts-gm.3.4.1")}
    assert {"mlf2025.5.2", "hlm.7"} <= gmts
    # every MLF competency counts as evidence somewhere else
    for comp in catalogue.of_kind("mlf2025", "competency"):
        assert catalogue.related(comp.id), comp.id
