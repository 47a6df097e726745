"""What a session's report says, built from what the session recorded (no pytest here):
results per phase, the session's timings, and each flow run's story with its timeline."""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from blueprint_harness.markers import MARKERS
from blueprint_harness.report.timeline import draw
from blueprint_harness.stack.runs import RunStory
from blueprint_harness.stack.states import format_history, retry_delays
from blueprint_harness.stack.timings import Timings

PHASES = tuple(marker.name for marker in MARKERS)  # every test group, in run order
OUTCOMES = ("passed", "failed", "skipped")


@dataclass(frozen=True)
class Outcome:
    """One test's result and the markers it carries."""

    nodeid: str
    outcome: str  # passed, failed, skipped
    markers: frozenset[str]


def phase_results(outcomes: Iterable[Outcome]) -> dict[str, Counter[str]]:
    """Passed/failed/skipped counts per phase (a test counts in each phase it is marked)."""
    results: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        for phase in PHASES:
            if phase in outcome.markers:
                results.setdefault(phase, Counter())[outcome.outcome] += 1
    return results


def run_facts(story: RunStory) -> dict[str, str]:
    """A run's facts, in the order a person reads them."""
    run = story.record.flow_run
    facts = {
        "trigger": story.command or "(made by the harness)",
        "parameters": ", ".join(f"{k}={v!r}" for k, v in sorted(run.parameters.items()))
        or "(the deployment's defaults)",
        "final state": f"{run.state_name} ({run.state_type})",
    }
    if run.end_time is not None:
        facts["trigger to end"] = f"{(run.end_time - story.triggered_at).total_seconds():.1f} s"
    if run.start_time is not None and run.end_time is not None:
        facts["running"] = f"{(run.end_time - run.start_time).total_seconds():.1f} s"
    for task in story.record.task_runs:
        delays = retry_delays(task.states)
        if delays:
            facts[f"{task.task_run.name.rsplit('-', 1)[0]} retry delays"] = ", ".join(
                f"{d.actual_seconds:.2f} s" for d in delays
            )
    facts["in the UI"] = story.ui_url
    return facts


def _png(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode()
    source = f"data:image/png;base64,{encoded}"
    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="{source}">'


def run_card_html(story: RunStory) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td>{_link(v) if k == 'in the UI' else html.escape(v)}</td></tr>"
        for k, v in run_facts(story).items()
    )
    title = f"{story.label}: flow run {story.record.flow_run.name}"
    timeline = _png(draw(story.record, title), f"timeline of {title}")
    return f"<h3>{html.escape(title)}</h3><table>{rows}</table>{timeline}"


def _link(url: str) -> str:
    return f'<a href="{html.escape(url)}">{html.escape(url)}</a>'


def results_html(results: Mapping[str, Counter[str]]) -> str:
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    rows = "".join(
        f"<tr><td>{phase}</td>" + "".join(f"<td>{counts[o]}</td>" for o in OUTCOMES) + "</tr>"
        for phase, counts in results.items()
    )
    return f"<table><tr><th>phase</th>{head}</tr>{rows}</table>"


def timings_html(stacks: Sequence[tuple[Path, Timings]]) -> str:
    parts = []
    for logs, timings in stacks:
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in timings.summary())
        parts.append(f"<p>session logs: <code>{html.escape(str(logs))}</code></p><ul>{lines}</ul>")
    return "".join(parts)


def lines_html(lines: Sequence[str]) -> str:
    return (
        "<ul>" + "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines) + "</ul>"
    )


def screenshots_html(folders: Iterable[Path]) -> str:
    pictures = sorted(p for folder in folders for p in folder.glob("screenshots/*.png"))
    return "".join(
        f"<h4>{html.escape(p.stem)}</h4>{_png(p.read_bytes(), p.stem)}" for p in pictures
    )


def summary_markdown(
    results: Mapping[str, Counter[str]],
    stacks: Sequence[tuple[Path, Timings]],
    failed: Sequence[str],
    failing_runs: Sequence[RunStory],
) -> str:
    """The same, for where CI systems show Markdown ($GITHUB_STEP_SUMMARY)."""
    verdict = "FAILED" if failed else "passed"
    lines = [f"## Prefect blueprint verification: {verdict}", ""]
    lines += ["| phase | passed | failed | skipped |", "|---|---|---|---|"]
    lines += [
        f"| {phase} | {c['passed']} | {c['failed']} | {c['skipped']} |"
        for phase, c in results.items()
    ]
    if failed:
        lines += ["", "### Failed tests", *(f"- `{nodeid}`" for nodeid in failed)]
    for story in failing_runs:
        run = story.record.flow_run
        lines += [
            "",
            f"### Flow run {run.name} ({story.label}): {run.state_name}",
            f"Trigger: `{story.command}`" if story.command else "",
            "```",
            format_history(story.record.states),
            "```",
        ]
    lines += ["", "### Timings"]
    for logs, timings in stacks:
        lines += ["", f"Session logs: `{logs}`", ""]
        lines += [f"- {line}" for line in timings.summary()]
    return "\n".join(lines) + "\n"
