"""The benchmark harness runs end to end in --quick mode (so that it cannot rot).

Only that the report is complete is checked: timings are the report's business.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from benchmarks import run
from benchmarks.spec import APPROACHES


@pytest.mark.timeout(300)
def test_quick_run_writes_every_approachs_numbers(tmp_path: Path) -> None:
    assert run.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
    for scenario in ("fleet", "mixed", "faults"):
        ran = {r["approach"] for r in results["runs"] if r["scenario"] == scenario}
        assert ran == set(APPROACHES), scenario
    for r in results["runs"]:
        assert r["requests"]["status"] > 0
        assert r["operations"]["succeeded"] + r["operations"]["failed_spuriously"] > 0
        assert r["latency_s"]["p50"] is not None or r["operations"]["succeeded"] == 0
        assert r["cpu_s"] > 0 and r["rss_peak_mb"] > 0 and r["threads_peak"] >= 1
    assert results["scale"] and results["scale"][0]["resolutions_per_s"] > 0
    assert results["targets"]
    for label in ("(a) sdk", "(b) ThreadPoolExecutor", "(c) osfutures", "## scale", "Machine"):
        assert label in markdown
