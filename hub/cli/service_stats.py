"""``omsorgshub stats monthly|chargeback``: the service's monthly figures and the chargeback's
invoice basis per ordering unit, as CSV without personal data (``hub.services.service_stats``).

``stats monthly --table referrals|lookups|deliveries|callbacks`` writes one table; each run is
audited. ``stats chargeback --month 2026-11`` gives the same basis for a past month whenever it
is asked (prices are settings with the day they apply from).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from hub import csv_text
from hub.cli.context import CliContext, pass_ctx
from hub.services.service_stats import chargeback, monthly
from hub.statistics.chargeback import INVOICE_COLUMNS, invoice_rows

TABLES = ("referrals", "lookups", "deliveries", "callbacks")
COLUMNS = {
    "referrals": (
        "district", "ordering_unit", "main_category", "case_type", "case_class", "referrals",
    ),
    "lookups": ("district", "lookup", "lookups", "protected_identity"),
    "deliveries": ("destination", "deliveries", "delivered", "retries", "dead", "waiting"),
    "callbacks": ("district", "urgency", "referrals", "met", "late", "overdue", "open"),
}  # fmt: skip


def write_csv(output: Path | None, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """To the file, or to standard output (``hub.csv_text``: the same bytes as the console's and
    the API's downloads)."""
    if output is None:
        csv_text.write_csv(sys.stdout, header, rows)
        return
    with output.open("w", newline="") as stream:
        csv_text.write_csv(stream, header, rows)


@click.command("monthly")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option("--table", type=click.Choice(TABLES), default="referrals", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@pass_ctx
def stats_monthly(
    obj: CliContext, month: str, district: str | None, table: str, output: Path | None
) -> None:
    """A month's figures without personal data: referrals per district, ordering unit and
    category; lookups per district; deliveries, retries and dead letters per destination;
    callback deadlines met. Audited."""
    stats = monthly(obj.hub, obj.principal, month, district=district)
    columns = COLUMNS[table]
    rows = getattr(stats, table)
    write_csv(
        output,
        ("month", *columns),
        ([stats.month, *(getattr(r, c) for c in columns)] for r in rows),
    )


@click.command("chargeback")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@pass_ctx
def stats_chargeback(
    obj: CliContext, month: str, district: str | None, output: Path | None
) -> None:
    """The invoice basis per ordering unit: the month's calls (referrals through the hub) at
    the price per call of their day (chargeback_call_prices), and a twelfth of each district's
    fixed yearly fee (chargeback_yearly_fees). Audited."""
    lines = chargeback(obj.hub, obj.principal, month, district=district)
    write_csv(output, INVOICE_COLUMNS, invoice_rows(lines))
