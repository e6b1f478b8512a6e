"""Run every benchmark and write the report: ``python -m benchmarks.run [--quick]``.

Full mode takes about ten minutes on two cores (real-time builds of 2-8 s, N up to
1000); ``--quick`` (CI) runs small N with operations ten times faster in under a minute.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import report
from .host import run_child, run_fleet
from .progress import Display
from .spec import APPROACHES, RunSpec
from .targets import judge

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Plan:
    """The sizes of one mode."""

    fleet: tuple[int, ...]
    mixed: tuple[int, ...]
    faults: int
    scale: tuple[int, ...]
    speed: float


FULL = Plan(fleet=(10, 100, 1000), mixed=(60, 200), faults=200, scale=(1000, 10_000), speed=1.0)
QUICK = Plan(fleet=(3, 8), mixed=(6,), faults=8, scale=(1000,), speed=10.0)


def _mixed(n: int) -> dict[str, int]:
    third = n // 3
    return {"server": n - 2 * third, "volume": third, "image": third}


def specs(plan: Plan) -> list[RunSpec]:
    """Every run of a plan, approaches side by side for each scenario and size."""
    mixes = [("fleet", {"server": n}, False) for n in plan.fleet]
    mixes += [("mixed", _mixed(n), False) for n in plan.mixed]
    mixes += [("faults", {"server": plan.faults}, True)]
    return [
        RunSpec(scenario, approach, mix, speed=plan.speed, faults=faults)
        for scenario, mix, faults in mixes
        for approach in APPROACHES
    ]


def _summary(run: dict[str, Any]) -> str:
    ops = run["operations"]
    return (
        f"{run['requests']['status']} status requests, p50 {run['latency_s']['p50'] or 0:.2f} s,"
        f" wall {run['wall_s']:.1f} s, {ops['succeeded']}/{2 * run['n']} succeeded"
    )


def run_all(plan: Plan, quick: bool) -> dict[str, Any]:
    runs = specs(plan)
    code = report.code_version(HERE.parent)
    display = Display(len(runs) + 1)
    started = time.monotonic()
    wall_started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    try:
        for spec in runs:
            display.start(spec.title)
            results.append(run_fleet(spec, display))
            display.finish(_summary(results[-1]))
        display.start(f"scale {', '.join(str(n) for n in plan.scale)} pending futures")
        scale = run_child("benchmarks.scale", [str(n) for n in plan.scale], display)["rows"]
        display.finish("done")
    finally:
        display.close()
    return {
        "quick": quick,
        "started": wall_started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": time.monotonic() - started,
        "machine": report.machine(),
        "code": code,
        "targets": judge(results, scale),
        "runs": results,
        "scale": scale,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, ten times faster (CI)")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where to write the report (benchmarks/)"
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="render RESULTS.md and the plot again from OUT/results.json; run nothing",
    )
    args = parser.parse_args(argv)
    if args.rewrite:
        results = json.loads((args.out / "results.json").read_text())
    else:
        results = run_all(QUICK if args.quick else FULL, args.quick)
    for path in report.write(results, args.out):
        print(path)
    missed = [t for t in results["targets"] if not t["met"]]
    for target in missed:
        print(f"missed: {target['scenario']}: {target['target']}: {target['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
