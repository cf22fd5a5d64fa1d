"""Self-assessment chart rendering (issue 9): one radar chart (9 MLF standards, the previous
assessment overlaid) as a PNG, the way the adapters make it (in a worker thread).

Target: < 300 ms per chart once the process is warm (the first chart of a process also imports
matplotlib and builds its font cache; that one is reported separately).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.talks.chart import radar_png
from frameworks.catalogue import default_catalogue


async def main() -> None:
    cat = default_catalogue()
    labels = [e.title for e in cat.of_kind("mlf2025", "standard")]
    now: list[float | None] = [3.2, 2.5, 4.0, 3.7, 2.0, 1.8, 4.5, 3.0, 3.3]
    before: list[float | None] = [2.8, 2.5, 3.5, None, 2.2, 1.5, 4.0, 2.7, 3.0]
    start = time.perf_counter()
    first = await asyncio.to_thread(radar_png, labels, now, before)
    cold = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(20):
        start = time.perf_counter()
        png = await asyncio.to_thread(radar_png, labels, now, before)
        times.append((time.perf_counter() - start) * 1000)
    single = []
    for _ in range(10):
        start = time.perf_counter()
        await asyncio.to_thread(radar_png, labels, now, None)
        single.append((time.perf_counter() - start) * 1000)
    print(f"first chart in a new process (imports matplotlib): {cold:.0f} ms, {len(first):,} bytes")
    p50, worst = statistics.median(times), max(times)
    print(f"chart with last time overlaid: p50 {p50:.0f} ms, max {worst:.0f} ms, {len(png):,} bytes")
    print(f"chart alone:                   p50 {statistics.median(single):.0f} ms, max {max(single):.0f} ms")
    print("target: < 300 ms per chart (warm)")


if __name__ == "__main__":
    asyncio.run(main())
