"""The benchmark harness runs end to end in --quick mode (so that it cannot rot).

Only that the report is complete is checked: timings are the report's business.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")

from benchmarks import cloud as clouds
from benchmarks import run
from benchmarks.analysis import request_counts
from benchmarks.progress import Display
from benchmarks.spec import APPROACHES, RunSpec, approaches_for
from benchmarks.targets import judge
from osfutures.testing import FakeCloud


@pytest.mark.timeout(300)
def test_quick_run_writes_every_approachs_numbers(tmp_path: Path) -> None:
    assert run.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
    for scenario in ("fleet", "mixed", "faults"):
        ran = {r["approach"] for r in results["runs"] if r["scenario"] == scenario}
        assert set(APPROACHES[:3]) <= ran <= set(approaches_for(8, scenario)), scenario
    assert "threads" in {r["approach"] for r in results["runs"] if r["scenario"] == "fleet"}
    for r in results["runs"]:
        assert r["requests"]["status"] > 0
        assert r["records"] > 0
        assert r["operations"]["succeeded"] + r["operations"]["failed_spuriously"] > 0
        assert r["latency_s"]["p50"] is not None or r["operations"]["succeeded"] == 0
        assert r["cpu_s"] > 0 and r["rss_peak_mb"] > 0 and r["threads_peak"] >= 1
    scale = results["scale"][0]
    assert scale["resolutions_per_s"] > 0 and scale["changed_per_cycle"] > 0
    assert results["targets"]
    for label in ("(a) sdk", "(b) ThreadPoolExecutor", "(c) osfutures", "(d) one", "## scale"):
        assert label in markdown
    assert "| records |" in markdown and "Machine" in markdown


def test_a_missed_target_shows_as_missed_and_an_absent_one_as_not_measured() -> None:
    def fleet(approach: str, status: int, records: int, cpu: float) -> dict[str, object]:
        return {
            "scenario": "fleet",
            "approach": approach,
            "n": 1000,
            "requests": {"status": status},
            "records": records,
            "cpu_s": cpu,
            "wall_s": 30.0,
            "latency_s": {"p50": 0.9, "p99": 2.0},
            "threads_by_role": {"monitor": 1},
        }

    runs = [fleet("serial", 2000, 1000, 30), fleet("pool", 2000, 2000, 30)]
    runs.append(fleet("osfutures", 20, 3000, 10))
    rows = {row["target"]: row for row in judge({"runs": runs, "scale": []})}
    assert rows[">= 50x fewer status requests than (b)"]["met"] is True
    assert rows["records in status answers <= (b)'s"]["met"] is False
    assert rows["real-Nova targets"]["met"] is None
    assert rows["engine targets"]["met"] is None


class _FakeCloudAsReal(clouds.CloudsYaml):
    """FakeCloud seen as a real cloud: the client counts, FakeCloud checks the count."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__("fake")
        self.cloud = cloud
        self.seen: dict[str, Any] = {}

    @contextlib.contextmanager
    def session(self, display: Display) -> Iterator[dict[str, Any]]:
        self.cloud.reset_stats()
        options = {"image_id": self.cloud.backend("image").default_image_id}
        yield {"connect": self.cloud.auth_args(), "options": options}

    def stats(self) -> None:
        self.seen = request_counts(self.cloud.stats())  # before the harness lists
        return None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("approach", ["serial", "osfutures"])
def test_a_real_cloud_run_counts_in_the_client_and_times_by_the_clouds_stamps(
    approach: str,
) -> None:
    spec = RunSpec("fleet", approach, {"server": 3}, speed=10.0, cloud="fake")
    display = Display(1, stream=io.StringIO())
    with FakeCloud(spec.seed, scenario=spec.scenario_model()) as cloud:
        target = _FakeCloudAsReal(cloud)
        try:
            result = clouds.run_cloud_fleet(target, spec, display)
        finally:
            display.close()
    assert result["counted_by"] == "client"
    # The client's own count is FakeCloud's, request for request and record for record.
    assert result["requests"] == target.seen["requests"]
    assert result["records"] == target.seen["records"] > 0
    assert result["operations"]["succeeded"] == 6
    assert 0 < result["latency_s"]["p50"] < 3
    assert result["hook_cpu_s"] >= 0
