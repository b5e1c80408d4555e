"""``omsorgshub ivo …``: IVO reporting of decisions not carried out (track, report, submit)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hub.cli.context import CliContext, pass_ctx
from hub.errors import InputError
from hub.ivo.model import Quarter
from hub.services.ivo_reports import Progress, Worklist, build_worklist, submit_reports
from hub.services.ivo_tracking import TrackResult, track_events

_STAGES = {"read": "reading tracked decisions", "pdf": "writing the PDF", "submit": "submitting"}


@click.group()
def ivo() -> None:
    """IVO reporting: decisions not carried out within three months (SoL 4 kap. 1 §, LSS 9 §).

    The hub tracks each decision from the case system's execution events; `report` builds a
    quarter's worklist for the officer, `submit` sends its complete reports to IVO's e-service
    through the hub's outbox (adapter `ivo`).
    """


@contextmanager
def _progress() -> Iterator[Progress]:
    """A progress bar per stage on a terminal; nothing when piped or logged."""
    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total == 0:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = click.progressbar(length=total, label=_STAGES.get(stage, stage), file=sys.stderr)
            bar.__enter__()
            bars[stage] = bar
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)


def _echo_tracking(tracked: TrackResult) -> None:
    click.echo(
        f"tracking: {tracked.applied} new events applied to {tracked.decisions} decisions"
        + (f", {tracked.skipped} could not be applied" if tracked.skipped else "")
    )
    if tracked.refused:
        click.echo(
            f"  {tracked.refused} events not tracked: no agreement of their district allows "
            "them for IVO reporting (setting ivo_purpose)"
        )


def _echo_summary(worklist: Worklist) -> None:
    counts = worklist.counts
    click.echo(f"{worklist.district} {worklist.quarter}: {len(worklist.rows)} individual reports")
    for state in ("new", "still_not_executed", "executed", "closed"):
        click.echo(f"  {state.replace('_', ' '):<20} {counts[state]}")
    if worklist.unreadable:
        click.echo(
            f"{len(worklist.unreadable)} tracked decisions cannot be read (their key version was "
            f"shredded): {', '.join(worklist.unreadable[:20])}"
        )
    incomplete = worklist.incomplete
    if incomplete:
        click.echo(
            f"{len(incomplete)} miss what the case system did not send (an officer completes):"
        )
        for row in incomplete:
            click.echo(f"  {row.reference}  decision {row.decision_id}: {', '.join(row.missing)}")


def _quarter(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return str(Quarter.parse(value))
    except InputError as exc:
        raise click.BadParameter(f"{exc.detail} ({exc.reason})") from None


_quarter_option = click.option(
    "--quarter", required=True, callback=_quarter, help="The quarter, e.g. 2026Q4."
)


@ivo.command("track")
@pass_ctx
def ivo_track(obj: CliContext) -> None:
    """Apply the stored execution events not applied yet (report and submit do it first)."""
    _echo_tracking(track_events(obj.hub, obj.principal))


@ivo.command("report")
@click.option("--district", required=True, help="The district whose committee reports.")
@_quarter_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the CSV and the PDF.",
)
@pass_ctx
def ivo_report(obj: CliContext, district: str, quarter: str, out_dir: Path) -> None:
    """Build the quarter's worklist: a CSV and a PDF for the officer (audited as an export)."""
    with _progress() as progress:
        worklist = build_worklist(
            obj.hub, obj.principal, district, quarter, out_dir=out_dir, progress=progress
        )
    _echo_tracking(worklist.tracked)
    _echo_summary(worklist)
    for path in worklist.files:
        click.echo(f"wrote {path}")


@ivo.command("submit")
@click.option("--district", required=True, help="The district whose committee reports.")
@_quarter_option
@pass_ctx
def ivo_submit(obj: CliContext, district: str, quarter: str) -> None:
    """Send the quarter's complete reports to IVO through the hub's outbox.

    Each report is an ivo.individual_report message from the hub's own identity (ivo_sender),
    keyed per decision and quarter: running it again stores nothing new. Reports with missing
    fields are listed, never sent. Delivery (retries, receipts) shows in `messages list`.
    """
    with _progress() as progress:
        result = submit_reports(obj.hub, obj.principal, district, quarter, progress=progress)
    _echo_tracking(result.worklist.tracked)
    _echo_summary(result.worklist)
    click.echo(
        f"submitted {len(result.submitted)} reports; {len(result.repeated)} were submitted "
        f"before (nothing new stored); {len(result.worklist.incomplete)} not submitted (missing)"
    )
    for reference, reason in result.failed:
        click.echo(f"  not submitted {reference}: {reason}")
    if result.failed:
        raise SystemExit(1)
