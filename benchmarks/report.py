"""Writing the results: ``RESULTS.md``, ``results.json`` and ``results.png``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .spec import APPROACHES, LABELS

PACKAGES = ("osfutures", "openstacksdk", "keystoneauth1", "requests", "cheroot", "werkzeug")
NOTES = Path(__file__).with_name("NOTES.md")


def machine() -> dict[str, Any]:
    """Cores, CPU, OS, Python and package versions of this machine."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        model = next((ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), "")
    versions = {}
    for name in (*PACKAGES, "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions,
    }


def code_version(root: Path) -> dict[str, Any]:
    """The git commit measured, and the files of ``osfutures/`` changed on top of it."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        except OSError:
            return ""
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "osfutures").splitlines()
    return {"commit": git("rev-parse", "HEAD"), "dirty": [line[3:] for line in dirty]}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _roles(roles: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(roles.items()))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _ordered(runs: Sequence[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    chosen = [r for r in runs if r["scenario"] == scenario]
    return sorted(chosen, key=lambda r: (r["n"], APPROACHES.index(r["approach"])))


def cost_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    header = (
        "N", "approach", "status req", "per op", "POST/PUT/DELETE", "keystone", "discovery",
        "response KB", "latency p50 / p99 / max (s)", "wall (s)", "client CPU (s)",
        "peak RSS (MB)", "threads (peak: roles)",
    )  # fmt: skip
    rows = [
        (
            r["n"],
            LABELS[r["approach"]],
            f"**{r['requests']['status']}**",
            _fmt(r["requests"]["status"] / (2 * r["n"])),
            r["requests"]["write"],
            r["requests"]["auth"],
            r["requests"]["discovery"],
            f"{r['total_bytes'] / 1024:,.0f}",
            " / ".join(_fmt(r["latency_s"][k]) for k in ("p50", "p99", "max")),
            _fmt(r["wall_s"], 1),
            _fmt(r["cpu_s"], 1),
            _fmt(r["rss_peak_mb"], 0),
            f"{r['threads_peak']}: {_roles(r['threads_by_role'])}",
        )
        for r in runs
    ]
    return _table(header, rows)


def outcome_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    header = ("N", "approach", "succeeded", "lost", "hung", "failed spuriously", "failed",
              "status req", "wall (s)", "errors the waiters raised")  # fmt: skip
    rows = [
        (
            r["n"],
            LABELS[r["approach"]],
            *(r["operations"][k] for k in ("succeeded", "lost", "hung", "failed_spuriously")),
            r["operations"]["failed"],
            r["requests"]["status"],
            _fmt(r["wall_s"], 1),
            ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "-",
        )
        for r in runs
    ]
    return _table(header, rows)


def routes_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    rows = [
        (r["n"], LABELS[r["approach"]], route, count)
        for r in runs
        for route, count in r["status_routes"].items()
    ]
    return _table(("N", "approach", "status route", "requests"), rows)


def scale_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    header = ("pending futures", "bytes per pending future", "monitor CPU per cycle (ms)",
              "cycles measured", "resolutions/s (all in one cycle)",
              "monitor CPU resolving them (ms)", "watch() calls/s")  # fmt: skip
    body = [
        (
            f"{r['pending']:,}",
            f"{r['bytes_per_future']:,.0f}",
            _fmt(r["monitor_cpu_per_cycle_ms"], 1),
            r["cycles"],
            f"{r['resolutions_per_s']:,.0f}",
            _fmt(r["monitor_cpu_resolving_ms"], 0),
            f"{r['submit_per_s']:,.0f}",
        )
        for r in rows
    ]
    return _table(header, body)


def _code_line(code: dict[str, Any] | None) -> list[str]:
    if not code:
        return []
    extra = f", plus uncommitted changes to {', '.join(code['dirty'])}" if code["dirty"] else ""
    return [f"Code measured: osfutures at commit {code['commit'][:12]}{extra}.", ""]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    runs = results["runs"]
    versions = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out = [
        "# osfutures benchmarks",
        "",
        f"Generated by `python -m benchmarks.run{' --quick' if results['quick'] else ''}`"
        f" on {results['started']}; the whole run took {results['duration_s'] / 60:.1f} min.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['os']}, Python {m['python']}; {versions}.",
        "",
        *_code_line(results.get("code")),
        "Every number comes from FakeCloud's accounting (requests, bytes, state transition"
        " times) or from the client process itself (CPU, RSS, threads); FakeCloud runs in"
        " the harness process, each approach's client in a fresh process of its own, all"
        " on the same seeded scenario, in real time. *Status req* counts the GETs that"
        " learn state; creating and deleting, keystone and version discovery are in their"
        " own columns. Latency is from the moment FakeCloud put a resource into its final"
        " state to the moment the waiter returned or the future resolved, over both the"
        " creations and the deletions. *Per op* is status requests per operation"
        " (N creations + N deletions).",
        "",
        "## Targets",
        "",
        *_table(
            ("scenario", "target", "measured", "met"),
            [
                (t["scenario"], t["target"], t["measured"], "yes" if t["met"] else "**MISSED**")
                for t in results["targets"]
            ],
        ),
        "![status requests and wall time against N](results.png)",
        "",
        "## fleet: create N servers (builds 2-8 s), wait, delete them, wait",
        "",
        *cost_table(_ordered(runs, "fleet")),
        "## mixed: servers, volumes and images at once",
        "",
        *cost_table(_ordered(runs, "mixed")),
        "Status requests by route:",
        "",
        *routes_table(_ordered(runs, "mixed")),
        "## faults: fleet with 5% 5xx, 1% dropped connections, 429 bursts, token expiry",
        "",
        "The faults hit the status GETs (server, volume and image show and list); the"
        " creating and deleting calls and keystone stay clean, so every failure is a"
        " waiter's. Every token expires 2 s into the first wait.",
        "",
        *outcome_table(_ordered(runs, "faults")),
        *cost_table(_ordered(runs, "faults")),
        "## scale: the engine alone, an in-process batch probe, no HTTP",
        "",
        *scale_table(results["scale"]),
    ]
    if NOTES.exists():
        out += [NOTES.read_text().strip(), ""]
    return "\n".join(out)


def plot(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Status requests and wall time against N for the fleet, one line per approach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fleet = _ordered(runs, "fleet")
    for approach in APPROACHES:
        mine = [r for r in fleet if r["approach"] == approach]
        ns = [r["n"] for r in mine]
        axes[0].plot(ns, [r["requests"]["status"] for r in mine], "o-", label=LABELS[approach])
        axes[1].plot(ns, [r["wall_s"] for r in mine], "o-", label=LABELS[approach])
    for ax, title in zip(axes, ("status requests", "wall time (s)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("servers (N)")
        ax.set_title(f"fleet: {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """Write the three report files into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "RESULTS.md", out / "results.json", out / "results.png"]
    paths[0].write_text(markdown(results))
    paths[1].write_text(json.dumps(results, indent=1) + "\n")
    plot(results["runs"], paths[2])
    return paths
