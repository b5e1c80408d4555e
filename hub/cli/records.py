"""``omsorgshub records art30``: the record of processing activities (GDPR art. 30) generated
from the agreements in force, as CSV or PDF (``hub.services.processing_record``); audited."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.context import CliContext, pass_ctx
from hub.cli.service_stats import write_csv
from hub.records.processing import COLUMNS
from hub.services.processing_record import processing_record


@click.group()
def records() -> None:
    """Records for the data-protection officer: the art. 30 record of processing activities."""


@records.command("art30")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option(
    "--format", "form", type=click.Choice(["csv", "pdf"]), default="csv", show_default=True
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@pass_ctx
def art30(obj: CliContext, district: str | None, form: str, output: Path | None) -> None:
    """Per district: purposes, categories of data and subjects, recipients, retention and
    security measures of each agreement in force (no personal data)."""
    record = processing_record(obj.hub, obj.principal, district=district)
    if form == "csv":
        write_csv(output, COLUMNS, (row.values() for row in record.rows))
        return
    if output is None:
        raise click.UsageError("a PDF needs --output FILE")
    output.write_bytes(record.pdf())
    click.echo(f"{output}: {len(record.rows)} agreement(s) in force")
