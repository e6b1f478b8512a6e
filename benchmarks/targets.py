"""The issues' targets, judged on one report's results (reported, never asserted).

Issue 14's targets come first; issue 9's, which they do not replace, follow. A target
whose run is missing from the results is listed as not measured, never left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Run = dict[str, Any]
Row = dict[str, Any]

#: The real-cloud fleet size issue 14's real-Nova targets are judged at.
REAL_N = 50
#: The scale issue 14 asks about: pending futures.
SCALE_N = 100_000


def _find(runs: Sequence[Run], scenario: str, approach: str, n: int | None = None) -> Run | None:
    found = [r for r in runs if r["scenario"] == scenario and r["approach"] == approach]
    if n is not None:
        found = [r for r in found if r["n"] == n]
    return max(found, key=lambda r: r["n"], default=None)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _row(issue: int, scenario: str, target: str, measured: str, met: bool | None) -> Row:
    return {"issue": issue, "scenario": scenario, "target": target, "measured": measured,
            "met": met}  # fmt: skip


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def fleet_targets(runs: Sequence[Run]) -> list[Row]:
    """Issue 14, FakeCloud fleet at its largest N (1000 in the full run)."""
    c, b, a = (_find(runs, "fleet", x) for x in ("osfutures", "pool", "serial"))
    if not (a and b and c):
        return [_row(14, "fleet", "FakeCloud fleet targets", "not measured", None)]
    where = f"fleet N={c['n']}"
    sc, sb, sa = (r["requests"]["status"] for r in (c, b, a))
    rc, rb = c.get("records"), b.get("records")
    p50, p99 = c["latency_s"]["p50"], c["latency_s"]["p99"]
    return [
        _row(14, where, ">= 50x fewer status requests than (b)",
             f"{_ratio(sb, sc):.1f}x ({sb} vs {sc})", _ratio(sb, sc) >= 50),
        _row(14, where, ">= 50x fewer status requests than (a)",
             f"{_ratio(sa, sc):.1f}x ({sa} vs {sc})", _ratio(sa, sc) >= 50),
        _row(14, where, "records in status answers <= (b)'s",
             f"{rc:,} vs {rb:,} ({_ratio(rc, rb):.2f}x)", rc <= rb)
        if rc is not None and rb is not None
        else _row(14, where, "records in status answers <= (b)'s", "not counted", None),
        _row(14, where, "client CPU <= 0.6x (b)'s",
             f"{c['cpu_s']:.1f} s vs {b['cpu_s']:.1f} s ({_ratio(c['cpu_s'], b['cpu_s']):.2f}x)",
             c["cpu_s"] <= 0.6 * b["cpu_s"]),
        _row(14, where, "wall time <= (b)'s",
             f"{c['wall_s']:.1f} s vs {b['wall_s']:.1f} s", c["wall_s"] <= b["wall_s"]),
        _row(14, where, "p50 detection latency <= 1.0 s", _s(p50), _at_most(p50, 1.0)),
        _row(14, where, "p99 detection latency <= 3 s", _s(p99), _at_most(p99, 3.0)),
    ]  # fmt: skip


def cloud_targets(name: str, runs: Sequence[Run]) -> list[Row]:
    """Issue 14, a real cloud's fleet at N=50 (judged for every real cloud measured)."""
    c, b, a = (_find(runs, "fleet", x, REAL_N) for x in ("osfutures", "pool", "serial"))
    where = f"{name} fleet N={REAL_N}"
    if not (a and b and c):
        return [_row(14, where, "real-cloud targets", "not measured", None)]
    sc, sb, sa = (r["requests"]["status"] for r in (c, b, a))
    best = min(sa, sb)
    lc, lb = c["latency_s"]["p50"], b["latency_s"]["p50"]
    return [
        _row(14, where, "status requests <= 1/3 of the better of (a) and (b)",
             f"{sc} vs {best} ({_ratio(sc, best):.2f}x)", 3 * sc <= best),
        _row(14, where, "p50 detection latency <= (b)'s", f"{_s(lc)} vs {_s(lb)}",
             lc is not None and lb is not None and lc <= lb),
    ]  # fmt: skip


def scale_targets(rows: Sequence[Row]) -> list[Row]:
    """Issue 14, the engine alone at 100,000 pending futures (the largest measured)."""
    if not rows:
        return [_row(14, "scale", "engine targets", "not measured", None)]
    row = max(rows, key=lambda r: r["pending"])
    where = f"scale {row['pending']:,} pending"
    if row["pending"] < SCALE_N:
        where += f" (issue: {SCALE_N:,})"
    full = row.get("monitor_cpu_per_changing_cycle_ms")
    share = row.get("changing_share", 0.01)
    # Following what changed takes an answer of what changed: judged on the engine's
    # Batch(changes_only=True) where it has one; the full answers are shown beside.
    only = (row.get("changes_only") or {}).get("monitor_cpu_per_changing_cycle_ms")
    judged = only if only is not None else full
    measured = "-" if judged is None else f"{judged:.1f} ms"
    if only is not None and full is not None:
        measured += f" with changes_only (every item answered: {full:.1f} ms)"
    elif full is not None:
        measured += " (every item answered; this engine has no changes_only)"
    rates = [row["resolutions_per_s"]]
    if row.get("changes_only"):
        rates.append(row["changes_only"]["resolutions_per_s"])
    return [
        _row(14, where, f"<= 20 ms monitor CPU per cycle, {share:.0%} changed", measured,
             judged is not None and judged <= 20),
        _row(14, where, ">= 100,000 resolutions/s",
             " / ".join(f"{rate:,.0f}/s" for rate in rates)
             + (" (every item answered / changes_only)" if len(rates) > 1 else ""),
             min(rates) >= 100_000),
        _row(14, where, "memory per pending future, against 2 KB",
             f"{row['bytes_per_future']:,.0f} B", row["bytes_per_future"] <= 2048),
    ]  # fmt: skip


def issue9_targets(runs: Sequence[Run]) -> list[Row]:
    """Issue 9's targets that issue 14 keeps: threads, mixed growth, faults."""
    rows = []
    c, b = _find(runs, "fleet", "osfutures"), _find(runs, "fleet", "pool")
    if c and b:
        roles = c["threads_by_role"]
        rows.append(
            _row(9, f"fleet N={c['n']}", "one monitor thread instead of 32 waiting threads",
                 f"monitor {roles.get('monitor', 0)}, pool {roles.get('pool', 0)}"
                 f" (b: pool {b['threads_by_role'].get('pool', 0)})",
                 roles.get("monitor", 0) == 1 and not roles.get("pool"))
        )  # fmt: skip
    sizes = sorted({r["n"] for r in runs if r["scenario"] == "mixed"})
    small = _find(runs, "mixed", "osfutures", sizes[0]) if len(sizes) >= 2 else None
    large = _find(runs, "mixed", "osfutures", sizes[-1]) if len(sizes) >= 2 else None
    if small and large:
        growth = _ratio(large["requests"]["status"], small["requests"]["status"])
        ops = large["n"] / small["n"]
        rows.append(
            _row(9, "mixed", "status requests grow with kinds and cycles, not operations",
                 f"{ops:.0f}x the operations -> {growth:.2f}x the status requests"
                 f" ({small['requests']['status']} -> {large['requests']['status']})",
                 growth < ops / 2)
        )  # fmt: skip
    f = _find(runs, "faults", "osfutures")
    if f is not None:
        ops_ = f["operations"]
        bad = ops_["lost"] + ops_["hung"] + ops_["failed_spuriously"]
        rows.append(
            _row(9, f"faults N={f['n']}", "zero operations lost, hung or failed spuriously",
                 f"lost {ops_['lost']}, hung {ops_['hung']}, failed spuriously"
                 f" {ops_['failed_spuriously']} of {2 * f['n']}", bad == 0)
        )  # fmt: skip
    return rows


def judge(results: dict[str, Any]) -> list[Row]:
    """Every target, on the FakeCloud runs, the real clouds' runs and the scale rows."""
    runs = results.get("runs", [])
    rows = fleet_targets(runs)
    clouds = results.get("clouds") or {}
    if "realnova" not in clouds:
        rows.append(_row(14, f"realnova fleet N={REAL_N}", "real-Nova targets",
                         "not measured", None))  # fmt: skip
    for name, section in clouds.items():
        rows += cloud_targets(name, section["runs"])
    rows += scale_targets(results.get("scale", []))
    return rows + issue9_targets(runs)
