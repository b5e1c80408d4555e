"""``omsorgshub demo``: the whole hub on the embedded default, with local doubles, in one command.

It makes a fresh demo data folder (``<home>/demo``), creates keys, the database, three city
districts' agreements, four sending systems and the routing table; starts the HTTP API, the
embedded worker and the local doubles on 127.0.0.1: the districts' case system (SOAP, one
``CaseManagementDouble`` behind ``case-sodermalm``, ``case-kungsholmen`` and ``case-farsta``),
Pulsen Combine (an ``HttpDouble``) and Unit4 Business World (``UbwDouble``). Over HTTP it sends
a realistic stream: case referrals from the contact centre and execution events from Lifecare
to the case systems, visit reports from a home-care app to Combine, personal-assistance payment
vouchers from the case system and payment deferrals from the contact centre to UBW (one of 31
days, beyond the contact centre's delegation, which the finance adapter refuses: it ends
``dead`` with the reason, on purpose). It takes the case system down for a while so retries and
recovery show; prints, per destination, sent / delivered / retried / dead and p50/p99 latency;
shows refusals; lets the contact centre look up a client summary and an invoice status (and
be refused one without consent); verifies the audit trail and prints the looked-up person's
extract. Exits 0 when every accepted message was delivered (but the deliberate one, which must
be dead for the right reason), the lookups answered as expected and the audit verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hub.cli.context import CliContext, pass_ctx
from hub.demo.sandbox import Sandbox

if TYPE_CHECKING:  # the doubles are imported by the run (hub.demo.run), not by this module
    pass

from hub.demo.scenario import (
    Tally,
    _fresh_home,
)

# The four streams the demo sends: option (and ``DemoRun.run``'s count key), least, default,
# what it sends. Each becomes a ``--<name>`` count option, in this order.
_STREAMS: tuple[tuple[str, int, int, str], ...] = (
    (
        "referrals",
        1,
        300,
        "Case referrals from the contact centre to the districts' case systems.",
    ),
    ("visits", 0, 200, "Visit time reports from the home-care app to Pulsen Combine."),
    ("events", 0, 60, "Execution events of SoL/LSS decisions from Lifecare to the case systems."),
    ("payments", 0, 30, "Personal-assistance payment vouchers from the case system to UBW."),
)

_F = TypeVar("_F", bound=Callable[..., Any])


def _stream_counts(command: _F) -> _F:
    """Decorate ``command`` with one count option per stream of ``_STREAMS``."""
    for name, least, default, help_text in reversed(_STREAMS):  # click stacks them bottom-up
        command = click.option(
            f"--{name}",
            type=click.IntRange(least, 100_000),
            default=default,
            show_default=True,
            help=help_text,
        )(command)
    return command


@click.command("demo")
@_stream_counts
@click.option(
    "--outage",
    type=click.FloatRange(0, 600),
    default=3.0,
    show_default=True,
    help="Seconds the districts' case system (SOAP, behind every case-* destination) is down "
    "during the stream.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0, 100_000),
    default=50,
    show_default=True,
    help="Messages per second to send (0: as fast as the hub takes them). The whole demo "
    "shares one process, which took about 65 msg/s on a 2-core machine; the summary says "
    "when the stream was slower than asked.",
)
@click.option(
    "--serve",
    "keep_serving",
    is_flag=True,
    help="Keep running after the summary: prints the console address and a demo login per "
    "role (made in the demo folder for this run); Ctrl-C or SIGTERM stops it.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=120,
    show_default=True,
    help="Give up waiting for deliveries after this many seconds.",
)
@pass_ctx
def demo_command(
    obj: CliContext,
    /,
    outage: float,
    rate: float,
    keep_serving: bool,
    timeout: float,
    **counts: int,
) -> None:
    """Run the whole hub locally with fictional data and print what happened."""
    from hub.demo.homecare import receivers_setting
    from hub.demo.ivo_step import SETTINGS as IVO_SETTINGS
    from hub.demo.run import DemoRun

    base = obj.settings.home
    home = base / "demo"
    _fresh_home(home)
    overrides = {**IVO_SETTINGS, "compensation_receivers": receivers_setting()}
    run = DemoRun(Sandbox(home, overrides=overrides), Tally())
    ok = run.run(counts=counts, outage=outage, rate=rate, timeout=timeout, serve=keep_serving)
    from hub.demo.medcom_exchange import show_medcom_exchange

    ok = show_medcom_exchange(Sandbox(home / "medcom")) and ok
    if not ok:
        raise SystemExit(1)
