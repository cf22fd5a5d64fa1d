"""The radar charts (flows/talks/chart.py) are drawn from cached figures with their text pre-rendered; the
pixels must be those of the full draw they replace (tests/chart_baseline.py, the code before), for the
self-assessment with and without last time, the 360° chart with and without the subject's own view, None
scores, and the label sets of several frameworks.

Tolerance: the cached drawing composites pre-rendered layers (the grid and tick labels; the legend) where
the full draw blended each glyph and stroke in turn onto what was there. Where a layer's own strokes overlap
(the legend's text on its frame, grid lines meeting at the centre, a tick label on a grid line) Agg's 8-bit
arithmetic rounds differently. So: no channel may differ by more than 4 levels (of 255); at most 0.5% of the
pixels (2,048 of 409,600) may differ at all, and at most 40 by more than one level; alpha not at all.
Measured over the cases here: 140-880 pixels differ, all but 0-6 of them by one level, the most by 4."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from flows.talks import chart
from flows.talks.chart import radar_png, self_vs_others_png
from frameworks.catalogue import Catalogue
from tests import chart_baseline

MAX_LEVELS, MAX_DIFFERING, MAX_OVER_ONE = 4, 2_048, 40

Scores = list[float | None]


def titles(catalogue: Catalogue, framework: str, kind: str) -> list[str]:
    return [e.title for e in catalogue.of_kind(framework, kind)]


def scores(n: int, seed: int, *, none: int = 0) -> Scores:
    """n scores 1-5 (fractions too), the first `none` of them not rated."""
    rng = np.random.default_rng(seed)
    return [None] * none + [round(float(v), 2) for v in rng.uniform(1, 5, n - none)]


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGBA" and image.size == (640, 640)
    return np.asarray(image).astype(np.int16)


def full_draw(draw: Callable[[], bytes]) -> bytes:
    """The same public call, drawn by the code before (a fresh pyplot figure, fully drawn and saved)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chart, "radar", chart_baseline.radar)
        return draw()


def assert_same_pixels(png: bytes, before: bytes) -> None:
    ours, theirs = pixels(png), pixels(before)
    diff = np.abs(ours - theirs)
    worst = diff.max(axis=2)
    assert int(worst.max()) <= MAX_LEVELS, f"a channel differs by {int(worst.max())} levels"
    assert int((worst > 0).sum()) <= MAX_DIFFERING, f"{int((worst > 0).sum())} pixels differ"
    assert int((worst > 1).sum()) <= MAX_OVER_ONE, f"{int((worst > 1).sum())} pixels differ by more than one level"
    assert not diff[..., 3].any(), "transparency differs"
    series = Image.open(io.BytesIO(png)).text["Series"]  # type: ignore[attr-defined]
    assert series == Image.open(io.BytesIO(before)).text["Series"]  # type: ignore[attr-defined]


CASES: dict[str, Callable[[Catalogue], Callable[[], bytes]]] = {
    # /assess on the MLF: alone (one standard not rated), then with last time (a None in each)
    "mlf-alone": lambda cat: lambda: radar_png(titles(cat, "mlf2025", "standard"), scores(9, 1, none=1)),
    "mlf-last-time": lambda cat: lambda: radar_png(
        titles(cat, "mlf2025", "standard"), scores(9, 2, none=1), scores(9, 3, none=2)
    ),
    # the LF's seven domains; /assess gmts draws its shares of competencies achieved on them
    "lf-domains": lambda cat: lambda: radar_png(titles(cat, "lf2011", "domain"), scores(7, 4)),
    "gmts-last-time": lambda cat: lambda: radar_png(
        titles(cat, "lf2011", "domain"), [5 * 3 / 17, 0.0, 5.0, 5 * 2 / 3, None, 2.5, 5 * 1 / 7], [0.0] * 6 + [None]
    ),
    # 360°: the subject's view and others', or others' alone, on several frameworks' areas
    "360-hlm": lambda cat: lambda: self_vs_others_png(titles(cat, "hlm", "dimension"), scores(9, 5), scores(9, 6)),
    "360-others-only": lambda cat: lambda: self_vs_others_png(
        titles(cat, "lf2011", "element")[:3], None, [4.5, None, 2.0]
    ),
    "360-lf-elements": lambda cat: lambda: self_vs_others_png(
        titles(cat, "lf2011", "element")[:12], scores(12, 7, none=3), scores(12, 8)
    ),
    "360-gmts-sections": lambda cat: lambda: self_vs_others_png(
        titles(cat, "gmts-gm", "section")[:8], scores(8, 9), scores(8, 10, none=8)
    ),
    # every area at the edge (the lines under the outer circle) and none rated at all
    "all-five": lambda cat: lambda: radar_png(titles(cat, "mlf2025", "standard"), [5.0] * 9, [5.0] * 9),
    "none-rated": lambda cat: lambda: self_vs_others_png(titles(cat, "hlm", "dimension"), [None] * 9, [None] * 9),
}


@pytest.mark.parametrize("case", CASES)
def test_the_chart_has_the_full_draws_pixels(catalogue: Catalogue, case: str) -> None:
    draw = CASES[case](catalogue)
    assert_same_pixels(draw(), full_draw(draw))


def test_a_cached_layout_redrawn_with_other_scores_keeps_nothing_of_the_last(catalogue: Catalogue) -> None:
    labels = titles(catalogue, "mlf2025", "standard")
    first = radar_png(labels, scores(9, 11), scores(9, 12))
    radar_png(titles(catalogue, "lf2011", "domain"), scores(7, 13))  # another layout in between

    def again() -> bytes:
        return radar_png(labels, scores(9, 14, none=2), scores(9, 15))

    second = again()
    assert pixels(first).tolist() != pixels(second).tolist()
    assert_same_pixels(second, full_draw(again))
    assert radar_png(labels, scores(9, 11), scores(9, 12)) == first  # the same scores: the same bytes


def test_the_legend_names_the_lines_drawn(catalogue: Catalogue) -> None:
    labels = titles(catalogue, "hlm", "dimension")
    with_legend = self_vs_others_png(labels, scores(9, 16), scores(9, 17))
    assert Image.open(io.BytesIO(with_legend)).text["Series"] == "You; Others"  # type: ignore[attr-defined]
    # the legend's box is in the top right corner, outside the circle: there only when asked for
    corner = (slice(30, 90), slice(530, 620))
    assert (pixels(with_legend)[corner][..., :3] < 200).any()
    alone = radar_png(labels, scores(9, 16))
    assert Image.open(io.BytesIO(alone)).text["Series"] == "Now"  # type: ignore[attr-defined]
    assert not (pixels(alone)[corner][..., :3] < 200).any()


def test_the_png_is_well_formed_with_its_resolution_and_series(catalogue: Catalogue) -> None:
    png = radar_png(titles(catalogue, "mlf2025", "standard"), scores(9, 18), scores(9, 19))
    Image.open(io.BytesIO(png)).verify()  # chunk lengths and CRCs
    image = Image.open(io.BytesIO(png))
    assert image.info["dpi"] == pytest.approx((100, 100), abs=0.01) and image.info["Series"] == "Last time; Now"
    assert image.mode == "RGBA" and image.size == (640, 640) and 10_000 < len(png) < 500_000


def test_the_cache_is_bounded(catalogue: Catalogue) -> None:
    labels = titles(catalogue, "lf2011", "element")
    for n in range(3, 3 + chart.CACHED_LAYOUTS + 3):
        radar_png(labels[:n], scores(n, n))
    assert len(chart._CACHE) == chart.CACHED_LAYOUTS


def test_charts_drawn_in_several_threads_at_once_are_each_right(catalogue: Catalogue) -> None:
    labels = titles(catalogue, "mlf2025", "standard")
    wanted = {seed: radar_png(labels, scores(9, seed), scores(9, seed + 1)) for seed in range(4)}
    got: dict[int, list[bytes]] = {seed: [] for seed in wanted}

    def draw(seed: int) -> None:
        for _ in range(5):
            got[seed].append(radar_png(labels, scores(9, seed), scores(9, seed + 1)))

    threads = [threading.Thread(target=draw, args=(seed,)) for seed in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(png == wanted[seed] for seed, pngs in got.items() for png in pngs)
