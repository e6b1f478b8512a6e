"""Run every benchmark and write the report: ``python -m benchmarks.run [--quick]``.

Full mode takes about ten minutes on two cores (real-time builds of 2-8 s, N up to
1000); ``--quick`` (CI) runs small N with operations ten times faster in under a minute.
``--cloud NAME`` runs the fleet scenario on a real cloud instead (see
:mod:`benchmarks.cloud`) and puts it in the report beside the FakeCloud runs already
in ``OUT/results.json``.
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

from . import cloud as clouds
from . import report
from .host import run_child, run_fleet
from .progress import Display
from .spec import RunSpec, approaches_for
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
    #: The scenarios (d), a thread per operation, runs in (at N <= 100).
    threads: tuple[str, ...] = ("fleet", "mixed")
    #: Seconds of each scale CPU measurement.
    window: float = 3.0


FULL = Plan(
    fleet=(10, 100, 1000), mixed=(60, 200), faults=200, scale=(1000, 10_000, 100_000), speed=1.0
)
QUICK = Plan(
    fleet=(8,), mixed=(6,), faults=8, scale=(1000,), speed=10.0, threads=("fleet",), window=0.5
)


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
        for approach in approaches_for(sum(mix.values()), scenario)
        if approach != "threads" or scenario in plan.threads
    ]


def _summary(run: dict[str, Any]) -> str:
    ops = run["operations"]
    return (
        f"{run['requests']['status']} status requests, {run['records']} records,"
        f" p50 {run['latency_s']['p50'] or 0:.2f} s, wall {run['wall_s']:.1f} s,"
        f" {ops['succeeded']}/{2 * run['n']} succeeded"
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
        sizes = [str(n) for n in plan.scale]
        args = ["--window", str(plan.window), *sizes]
        scale = run_child("benchmarks.scale", args, display)["rows"]
        display.finish("done")
    finally:
        display.close()
    return {
        "quick": quick,
        "started": wall_started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": time.monotonic() - started,
        "machine": report.machine(),
        "code": code,
        "runs": results,
        "scale": scale,
        "clouds": {},
    }


def run_cloud(cloud: clouds.Cloud, sizes: Sequence[int]) -> dict[str, Any]:
    """The fleet scenario on a real cloud, every approach at every size."""
    runs = [
        RunSpec("fleet", approach, {"server": n}, cloud=cloud.name, hang_after=600)
        for n in sizes
        for approach in approaches_for(n, "fleet")
    ]
    code = report.code_version(HERE.parent)
    display = Display(len(runs))
    started = time.monotonic()
    wall_started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    try:
        for spec in runs:
            display.start(spec.title)
            results.append(clouds.run_cloud_fleet(cloud, spec, display))
            display.finish(_summary(results[-1]))
    finally:
        display.close()
    return {
        **cloud.describe(),
        "started": wall_started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": time.monotonic() - started,
        "machine": report.machine(),
        "code": code,
        "runs": results,
    }


def _previous(out: Path) -> dict[str, Any] | None:
    path = out / "results.json"
    if not path.exists():
        return None
    previous: dict[str, Any] = json.loads(path.read_text())
    return previous


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
    parser.add_argument(
        "--cloud",
        metavar="NAME",
        help="run the fleet on a real cloud: a clouds.yaml entry, realnova:URL_FILE.json"
        " (a Nova serving) or realnova:DIR (a fresh Nova per approach, run from DIR);"
        " the other scenarios stay as OUT/results.json has them",
    )
    parser.add_argument(
        "--sizes",
        default="30,50",
        help="with --cloud: the fleet sizes, comma separated (30,50)",
    )
    parser.add_argument("--image", help="with --cloud NAME (clouds.yaml): the image to boot")
    parser.add_argument("--flavor", default="1", help="with --cloud: the flavor (1)")
    parser.add_argument("--network", default="none", help="with --cloud NAME: networks (none)")
    args = parser.parse_args(argv)
    previous = _previous(args.out)
    if args.rewrite:
        if previous is None:
            parser.error(f"--rewrite: no {args.out / 'results.json'}")
        results = previous
    elif args.cloud:
        cloud = clouds.parse(args.cloud, args.image, args.flavor, args.network)
        measured = run_cloud(cloud, [int(n) for n in args.sizes.split(",")])
        results = previous or {"quick": False, "runs": [], "scale": [], "clouds": {}}
        results.setdefault("clouds", {})[cloud.name] = measured
    else:
        results = run_all(QUICK if args.quick else FULL, args.quick)
        if previous is not None and not args.quick:
            # A real cloud's section stays until that cloud is measured again.
            results["clouds"] = previous.get("clouds", {})
    results["targets"] = judge(results)
    for path in report.write(results, args.out):
        print(path)
    for target in results["targets"]:
        if target["met"] is not True:
            verdict = "missed" if target["met"] is False else "not measured"
            print(f"{verdict}: {target['scenario']}: {target['target']}: {target['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
