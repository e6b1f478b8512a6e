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
    """The git commit measured, and the files of ``osfutures/`` changed on top of it.

    A copy of the code outside git (``git archive HEAD`` plus some files, so that the
    run measures one commit while the work tree moves) says so itself in the
    ``BENCH_CODE`` environment variable: ``{"commit": ..., "dirty": [...]}`` as JSON.
    """
    given = os.environ.get("BENCH_CODE")
    if given:
        code: dict[str, Any] = json.loads(given)
        return code

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        except OSError:
            return ""
        return done.stdout.rstrip("\n")  # porcelain lines start with a space: keep it

    dirty = git("status", "--porcelain", "--", "osfutures").splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "dirty": [line[3:] for line in dirty]}


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


def _records(run: dict[str, Any]) -> str:
    return "-" if run.get("records") is None else f"{run['records']:,}"


def _stage_p50(run: dict[str, Any]) -> str:
    stages = run.get("latency_by_stage_s")
    if not stages:
        return "-"
    return " / ".join(_fmt(stages[stage]["p50"]) for stage in ("ready", "gone"))


def cost_table(runs: Sequence[dict[str, Any]], client_count: bool = False) -> list[str]:
    """One row per run; ``client_count`` adds the client's own count of status requests
    (real clouds)."""
    header = (
        "N", "approach", "status req", *(("client-counted",) if client_count else ()),
        "per op", "records", "POST/PUT/DELETE", "keystone", "discovery",
        "response KB", "latency p50 / p99 / max (s)", "p50 create / delete (s)", "wall (s)",
        "client CPU (s)", "peak RSS (MB)", "threads (peak: roles)",
    )  # fmt: skip
    rows = [
        (
            r["n"],
            LABELS[r["approach"]],
            f"**{r['requests']['status']}**",
            *((r["client_count"]["requests"]["status"],) if client_count else ()),
            _fmt(r["requests"]["status"] / (2 * r["n"])),
            _records(r),
            r["requests"]["write"],
            r["requests"]["auth"],
            r["requests"]["discovery"],
            f"{r['total_bytes'] / 1024:,.0f}",
            " / ".join(_fmt(r["latency_s"][k]) for k in ("p50", "p99", "max")),
            _stage_p50(r),
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
              "status req", "records", "wall (s)", "errors the waiters raised")  # fmt: skip
    rows = [
        (
            r["n"],
            LABELS[r["approach"]],
            *(r["operations"][k] for k in ("succeeded", "lost", "hung", "failed_spuriously")),
            r["operations"]["failed"],
            r["requests"]["status"],
            _records(r),
            _fmt(r["wall_s"], 1),
            ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "-",
        )
        for r in runs
    ]
    return _table(header, rows)


def routes_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    rows = [
        (r["n"], LABELS[r["approach"]], route, count,
         f"{(r.get('status_route_records') or {}).get(route, '-'):,}"
         if r.get("status_route_records") else "-")
        for r in runs
        for route, count in r["status_routes"].items()
    ]  # fmt: skip
    return _table(("N", "approach", "status route", "requests", "records"), rows)


def scale_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    header = ("pending futures", "fetch_many answers", "bytes per pending future",
              "monitor CPU per cycle, none changed (ms)", "cycles",
              "monitor CPU per cycle, 1% changed (ms)", "cycles",
              "process CPU per cycle, none / 1% changed (ms)",
              "resolutions/s (all in one cycle)",
              "monitor CPU resolving them (ms)", "watch() calls/s")  # fmt: skip
    body = []
    for row in rows:
        modes = [("every asked item", row)]
        if row.get("changes_only"):
            modes.append(("changes only", row["changes_only"]))
        for answers, r in modes:
            body.append(
                (
                    f"{row['pending']:,}",
                    answers,
                    f"{row['bytes_per_future']:,.0f}",
                    _fmt(r["monitor_cpu_per_cycle_ms"], 1),
                    r["cycles"],
                    _fmt(r.get("monitor_cpu_per_changing_cycle_ms"), 1),
                    r.get("changing_cycles", "-"),
                    f"{_fmt(r.get('process_cpu_per_cycle_ms'), 1)}"
                    f" / {_fmt(r.get('process_cpu_per_changing_cycle_ms'), 1)}",
                    f"{r['resolutions_per_s']:,.0f}",
                    _fmt(r["monitor_cpu_resolving_ms"], 0),
                    f"{r['submit_per_s']:,.0f}",
                )
            )
    return _table(header, body)


def _code_line(code: dict[str, Any] | None) -> list[str]:
    if not code:
        return []
    extra = f", plus uncommitted changes to {', '.join(code['dirty'])}" if code["dirty"] else ""
    return [f"Code measured: osfutures at commit {code['commit'][:12]}{extra}.", ""]


_VERDICT = {True: "yes", False: "**MISSED**", None: "not measured"}


def targets_table(targets: Sequence[dict[str, Any]]) -> list[str]:
    return _table(
        ("issue", "scenario", "target", "measured", "met"),
        [
            (t.get("issue", ""), t["scenario"], t["target"], t["measured"], _VERDICT[t["met"]])
            for t in targets
        ],
    )


def cloud_section(name: str, section: dict[str, Any]) -> list[str]:
    """A real cloud's fleet runs, with how they were run and counted."""
    title = "real Nova (`../shared/realnova`)" if name == "realnova" else f"cloud `{name}`"
    m = section["machine"]
    return [
        f"## {title}: the fleet scenario on a real cloud",
        "",
        f"Generated by `python -m benchmarks.run --cloud ...` on {section['started']};"
        f" it took {section['duration_s'] / 60:.1f} min, on {m['cores']} cores ({m['cpu']}),"
        f" openstacksdk {m['packages'].get('openstacksdk')}.",
        "",
        *_code_line(section.get("code")),
        f"How: {section['how']}. *Status req* as counted by {section['counted_by']};"
        " *client-counted* is the client's own count of the same requests (a requests"
        " response hook, every attempt), which also gives *records* and *response KB*"
        " (the hook parses each status answer once more; its CPU is measured and taken"
        " out of *client CPU*). Latency runs from the cloud's own timestamp of the"
        " transition (`OS-SRV-USG:launched_at` for ACTIVE, `OS-SRV-USG:terminated_at` for"
        " DELETED, read by one `changes-since` listing after the run) to the moment the"
        " client learnt it, both wall clock times of this machine. Nova draws each"
        " server's build and delete times from its seed and the server's uuid, which"
        " differs per run: the same distribution for every approach, not the same list.",
        "",
        *cost_table(_ordered(section["runs"], "fleet"), client_count=True),
        "Status requests by route:",
        "",
        *routes_table(_ordered(section["runs"], "fleet")),
    ]


def markdown(results: dict[str, Any]) -> str:
    runs = results.get("runs") or []
    out = [
        "# osfutures benchmarks",
        "",
        "## Targets",
        "",
        *targets_table(results["targets"]),
    ]
    if runs:
        out[2:2] = _fakecloud_header(results)
        out += _fakecloud_sections(results)
    else:
        out[2:2] = ["No FakeCloud scenario in this report yet: `python -m benchmarks.run`.", ""]
    for name, section in (results.get("clouds") or {}).items():
        out += cloud_section(name, section)
    if NOTES.exists():
        out += [NOTES.read_text().strip(), ""]
    return "\n".join(out)


def _fakecloud_header(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return [
        f"Generated by `python -m benchmarks.run{' --quick' if results['quick'] else ''}`"
        f" on {results['started']}; the whole run took {results['duration_s'] / 60:.1f} min.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['os']}, Python {m['python']}; {versions}.",
        "",
        *_code_line(results.get("code")),
        "Every number comes from FakeCloud's accounting (requests, records, bytes, state"
        " transition times) or from the client process itself (CPU, RSS, threads);"
        " FakeCloud runs in the harness process, each approach's client in a fresh process"
        " of its own, all on the same seeded scenario, in real time. *Status req* counts"
        " the GETs that learn state; creating and deleting, keystone and version discovery"
        " are in their own columns. Latency is from the moment FakeCloud put a resource"
        " into its final state to the moment the waiter returned or the future resolved,"
        " over both the creations and the deletions. *Per op* is status requests per"
        " operation (N creations + N deletions). A real cloud's section, if any, follows"
        " the FakeCloud ones and says how it was measured.",
        "",
    ]


def _fakecloud_sections(results: dict[str, Any]) -> list[str]:
    runs = results["runs"]
    return [
        "![status requests and wall time against N](results.png)",
        "",
        "## fleet: create N servers (builds 2-8 s), wait, delete them, wait",
        "",
        "*Records* are the resource records in the status answers (each server in a"
        " show or a list page is one), counted by FakeCloud as it renders them."
        " (a) and (b) start waiting once all N are started; (c) and (d) watch each"
        " operation from its start. (d), a thread per operation, runs at N <= 100 only:"
        " the latency reference.",
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
        "A cycle is one `fetch_many` call of the batch. *None changed*: every answer"
        " maps each item to the record it mapped to before; *1% changed*: 1% of the"
        " asked items get a new record each cycle (progress one step on, still BUILD)."
        " *Every asked item*: `fetch_many` answers every item it is asked for, as a"
        " plain `Batch`; *changes only*: `Batch(changes_only=True)`, whose `fetch_many`"
        " answers only the items that changed since its previous answer (each item the"
        " first time), a fresh monitor and probe."
        " *Monitor CPU* is the monitor thread's own clock (the target's measure);"
        " *process CPU* adds the probe thread (the engine's part of a probe and the"
        " in-memory answer) and everything else in the process.",
        "",
    ]


def plot(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Status requests and wall time against N for the fleet, one line per approach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fleet = _ordered(runs, "fleet")
    if not fleet:
        fig.text(0.5, 0.5, "no FakeCloud fleet run in this report", ha="center")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
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
    paths[1].write_text(json.dumps(results, indent=1) + "\n")  # first: the numbers are safe
    paths[0].write_text(markdown(results))
    plot(results.get("runs") or [], paths[2])
    return paths
