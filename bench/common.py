"""Shared benchmark plumbing: repeat a measurement, summarise it as median (min-max), and write
the results as JSON under `bench/results/` plus the markdown table in `docs/benchmarks.md`.

Pure bookkeeping: no actor or runtime code lives here, so every benchmark reports the same way.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
DOC = REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Median (min-max) of several repeats of one figure."""

    median: float
    low: float
    high: float
    repeats: int

    def text(self, fmt: str = "{:,.1f}") -> str:
        return f"{fmt.format(self.median)} ({fmt.format(self.low)}-{fmt.format(self.high)})"


def summarise(values: Sequence[float]) -> Summary:
    if not values:
        msg = "summarise needs at least one value, got none"
        raise ValueError(msg)
    return Summary(
        median=statistics.median(values), low=min(values), high=max(values), repeats=len(values)
    )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (`fraction` in 0..1)."""
    if not sorted_values:
        msg = "percentile of an empty sequence"
        raise ValueError(msg)
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def repeat(times: int, measure: Callable[[], float]) -> Summary:
    return summarise([measure() for _ in range(times)])


def rss_mb() -> float:
    """This process's resident set size now (Linux /proc), in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass(slots=True, kw_only=True)
class Row:
    """One line of the markdown table: what was measured, the figure, the baseline, the ratio."""

    benchmark: str
    case: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    data: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Report:
    """Everything one benchmark measured, written as JSON and merged into the markdown table."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    )
    took_s: float | None = None  # wall time of the whole benchmark, set by its runner

    def add(self, row: Row) -> None:
        print(f"  {row.case}: {row.figure}  {row.baseline}  {row.ratio}".rstrip(), flush=True)
        self.rows.append(row)

    def note(self, text: str) -> None:
        print(f"  note: {text}", flush=True)
        self.notes.append(text)

    def write_json(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        payload = {
            "name": self.name,
            "measured_at": self.measured_at,
            "took_s": self.took_s,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "rows": [asdict(r) for r in self.rows],
            "notes": self.notes,
        }
        path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        return path


def load_reports(directory: Path = RESULTS_DIR, order: Sequence[str] = ()) -> list[Report]:
    """The latest result of every benchmark on disk, in `order` first, so a run of one benchmark
    keeps the others' figures in the table."""
    found: dict[str, Report] = {}
    for path in sorted(directory.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows = [
            Row(**{k: v for k, v in row.items() if k in Row.__dataclass_fields__})
            for row in payload["rows"]
        ]
        found[payload["name"]] = Report(
            name=payload["name"],
            rows=rows,
            notes=list(payload["notes"]),
            measured_at=str(payload.get("measured_at", "")),
            took_s=payload.get("took_s"),
        )
    ranked = [found.pop(name) for name in order if name in found]
    return ranked + [found[name] for name in sorted(found)]


def markdown(reports: Sequence[Report]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); rerun it rather than editing this file.",
        "Each figure is the median (min-max) of several repeats in one run; ratios compare",
        "against a baseline measured in the same run. JSON with every repeat is in",
        "`bench/results/` (not committed).",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}. It is shared with "
        "other jobs, so absolute figures are noisy: compare the ratios, which each run measures "
        "against its own baselines.",
        "",
    ]
    for report in reports:
        lines += [
            f"## {report.name}",
            "",
            f"Measured {report.measured_at}"
            + ("." if report.took_s is None else f", in {report.took_s:,.0f} s."),
            "",
            "| case | figure | baseline | ratio |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.case} | {r.figure} | {r.baseline} | {r.ratio} |" for r in report.rows]
        lines += [""] + [f"- {n}" for n in report.notes] + ([""] if report.notes else [])
    return "\n".join(lines)


def write_markdown(reports: Sequence[Report], path: Path = DOC) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(reports), encoding="utf-8")
    return path
