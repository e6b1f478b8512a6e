"""The issue's targets, judged on one run's results (reported, never asserted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Run = dict[str, Any]


def _find(runs: Sequence[Run], scenario: str, approach: str, n: int | None = None) -> Run | None:
    found = [r for r in runs if r["scenario"] == scenario and r["approach"] == approach]
    if n is not None:
        found = [r for r in found if r["n"] == n]
    return max(found, key=lambda r: r["n"], default=None)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _row(scenario: str, target: str, measured: str, met: bool) -> dict[str, Any]:
    return {"scenario": scenario, "target": target, "measured": measured, "met": met}


def fleet_targets(runs: Sequence[Run]) -> list[dict[str, Any]]:
    c, b, a = (_find(runs, "fleet", x) for x in ("osfutures", "pool", "serial"))
    if not (a and b and c):
        return []
    n = c["n"]
    sc, sb, sa = (r["requests"]["status"] for r in (c, b, a))
    lc, lb = c["latency_s"]["p50"], b["latency_s"]["p50"]
    roles = c["threads_by_role"]
    return [
        _row(f"fleet N={n}", ">= 50x fewer status requests than (b)",
             f"{_ratio(sb, sc):.1f}x ({sb} vs {sc})", _ratio(sb, sc) >= 50),
        _row(f"fleet N={n}", ">= 20x fewer status requests than (a)",
             f"{_ratio(sa, sc):.1f}x ({sa} vs {sc})", _ratio(sa, sc) >= 20),
        _row(f"fleet N={n}", "p50 detection latency no worse than (b)",
             f"{lc:.2f} s vs {lb:.2f} s", lc <= lb),
        _row(f"fleet N={n}", "one monitor thread instead of 32 waiting threads",
             f"monitor {roles.get('monitor', 0)}, pool {roles.get('pool', 0)}"
             f" (b: pool {b['threads_by_role'].get('pool', 0)})",
             roles.get("monitor", 0) == 1 and not roles.get("pool")),
    ]  # fmt: skip


def mixed_targets(runs: Sequence[Run]) -> list[dict[str, Any]]:
    sizes = sorted({r["n"] for r in runs if r["scenario"] == "mixed"})
    if len(sizes) < 2:
        return []
    small, large = (_find(runs, "mixed", "osfutures", n) for n in (sizes[0], sizes[-1]))
    if not (small and large):
        return []
    growth = _ratio(large["requests"]["status"], small["requests"]["status"])
    ops = large["n"] / small["n"]
    return [
        _row(
            "mixed",
            "status requests grow with kinds and cycles, not operations",
            f"{ops:.0f}x the operations -> {growth:.2f}x the status requests"
            f" ({small['requests']['status']} -> {large['requests']['status']})",
            growth < ops / 2,
        )
    ]


def scale_targets(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return []
    row = max(rows, key=lambda r: r["pending"])
    label = f"scale {row['pending']} pending"
    return [
        _row(label, ">= 20,000 resolutions/s", f"{row['resolutions_per_s']:,.0f}/s",
             row["resolutions_per_s"] >= 20_000),
        _row(label, "<= 2 KB per pending future", f"{row['bytes_per_future']:,.0f} B",
             row["bytes_per_future"] <= 2048),
        _row(label, "< 50 ms monitor CPU per poll cycle",
             f"{row['monitor_cpu_per_cycle_ms']:.1f} ms", row["monitor_cpu_per_cycle_ms"] < 50),
    ]  # fmt: skip


def faults_targets(runs: Sequence[Run]) -> list[dict[str, Any]]:
    c = _find(runs, "faults", "osfutures")
    if c is None:
        return []
    ops = c["operations"]
    bad = ops["lost"] + ops["hung"] + ops["failed_spuriously"]
    return [
        _row(
            f"faults N={c['n']}",
            "zero operations lost, hung or failed spuriously",
            f"lost {ops['lost']}, hung {ops['hung']}, failed spuriously"
            f" {ops['failed_spuriously']} of {2 * c['n']}",
            bad == 0,
        )
    ]


def judge(runs: Sequence[Run], scale_rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return (
        fleet_targets(runs) + mixed_targets(runs) + scale_targets(scale_rows) + faults_targets(runs)
    )
