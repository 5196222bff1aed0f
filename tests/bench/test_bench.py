"""Smoke tests: every benchmark runs end to end on tiny sizes and reports its figures, and the
results round-trip through JSON into the markdown table. Figures come from `make bench`,
never from here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import fixes
from bench.common import Report, Row, load_reports, markdown, percentile, summarise

# The Ray benchmark starts a local Ray cluster of its own (6.5 s on a quiet machine).
ON_RAY = {"ray_runtime": [pytest.mark.ray, pytest.mark.slow]}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=ON_RAY.get(name, ())) for name in bench_main.BENCHMARKS]
)
def test_each_benchmark_runs_on_tiny_sizes_and_reports_its_figures(name: str) -> None:
    report = bench_main.BENCHMARKS[name](tiny=True)
    assert report.name == name
    assert report.rows
    figures = [float(row.figure.split(" ")[0].replace(",", "")) for row in report.rows]
    assert figures[0] > 0, report.rows[0]  # the headline is a measured rate or time
    assert all(figure >= 0 for figure in figures), report.rows


def test_the_markdown_table_is_rebuilt_from_the_json_of_every_benchmark(tmp_path: Path) -> None:
    first = Report(name="journal")
    first.add(Row(benchmark="journal", case="appends/s", figure="10 (9-11)", ratio="0.5x"))
    first.note("a note")
    second = Report(name="footprint")
    second.add(Row(benchmark="footprint", case="start s", figure="1.00 (0.9-1.1)"))
    first.write_json(tmp_path)
    second.write_json(tmp_path)
    loaded = load_reports(tmp_path, order=["journal"])
    assert [r.name for r in loaded] == ["journal", "footprint"]
    table = markdown(loaded)
    assert "| appends/s | 10 (9-11) |  | 0.5x |" in table
    assert "- a note" in table
    assert "| start s | 1.00 (0.9-1.1) |" in table


def test_a_summary_is_the_median_with_its_range_and_percentiles_use_nearest_rank() -> None:
    summary = summarise([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (summary.median, summary.low, summary.high, summary.repeats) == (3.0, 1.0, 10.0, 5)
    assert summary.text("{:.0f}") == "3 (1-10)"
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    with pytest.raises(ValueError, match="at least one value"):
        summarise([])


def test_a_registered_benchmark_whose_module_is_not_in_the_checkout_is_skipped() -> None:
    assert bench_main.load(("journal", "not_written_yet")).keys() == {"journal"}


@pytest.mark.parametrize("case", sorted(fixes.CASES))
def test_each_before_after_case_of_the_fixes_runs_on_tiny_sizes(case: str) -> None:
    figures = fixes.CASES[case](True)
    values = list(figures.values()) if isinstance(figures, dict) else [figures]
    assert values
    assert all(value > 0 for value in values), figures
