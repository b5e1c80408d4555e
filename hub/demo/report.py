"""The demo's report: the table per destination, the deliberate dead one, the audit trail.

What ``hub.demo.run`` prints once the stream is delivered; each function returns whether what
it shows is as it must be, and the run's exit status is made of those answers.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import click
import httpx

from audit.report import subject_report, to_csv
from audit.signing import load_verifier
from audit.trail import load_checkpoints
from audit.verify import load_entries, verify
from hub.bootstrap import Hub
from hub.demo.doubles import Doubles
from hub.demo.scenario import FINANCE, TIMEREPORTS, TOO_LONG_DAYS, Tally, percentile
from hub.storage import messages as message_rows

# Below this share of the asked rate, the summary says the stream was slower than asked.
SLOWER = 0.9

if TYPE_CHECKING:
    from adapters.doubles.case_management_double import SeededClient


def summary(
    hub: Hub,
    doubles: Doubles,
    tally: Tally,
    destinations: list[str],
    meant_dead: list[tuple[str, str, str]],
    ingest_seconds: float,
    sent_messages: int,
    rate: float,
) -> bool:
    """The table; True when every destination got what it was sent but the deliberate dead
    ones, and its double stored each delivered message once."""
    t = tally
    with hub.reader.connect() as conn:
        states = message_rows.count_by_state(conn)
    meant = Counter(destination for _, destination, _ in meant_dead)
    click.echo(ingest_line(sent_messages, ingest_seconds, rate) + "\n")
    head = f"  {'destination':<22}{'adapter':<11}{'sent':>6}{'delivered':>11}{'retried':>9}"
    click.echo(head + f"{'dead':>6}{'p50 ms':>9}{'p99 ms':>9}{'double saw':>12}")
    kinds = {TIMEREPORTS: "combine", FINANCE: "ubw"}
    kept = True
    for name in destinations:
        lat = t.latency.get(name, [])
        delivered = states.get(name, {}).get("delivered", 0)
        dead = states.get(name, {}).get("dead", 0)
        saw = doubles.saw(name)
        click.echo(
            f"  {name:<22}{kinds.get(name, 'case-soap'):<11}{t.sent[name]:>6}{delivered:>11}"
            f"{t.retried[name]:>9}{dead:>6}{percentile(lat, 50) * 1000:>9.0f}"
            f"{percentile(lat, 99) * 1000:>9.0f}{saw:>12}"
        )
        if (delivered, dead, saw) != (t.sent[name] - meant[name], meant[name], delivered):
            kept = False
    if not kept:
        click.echo("  NOT ALL DELIVERED: a destination did not get exactly what it was sent")
    return kept


def ingest_line(sent_messages: int, seconds: float, rate: float) -> str:
    """What was sent, how fast, against the rate asked for: the demo says what it did.

    The stream is paced at ``rate`` by 8 sending threads in the same process as the hub, the
    worker and the doubles; when the hub takes the messages more slowly than that, the line
    says so, with the rate measured, instead of letting the asked rate stand as a claim."""
    achieved = sent_messages / max(seconds, 1e-9)
    line = f"\nIngest: {sent_messages} messages in {seconds:.1f} s, {achieved:.0f} msg/s over HTTP"
    if not rate:
        return line + " (as fast as the hub took them)"
    line += f" (paced at {rate:g} msg/s)"
    if achieved < SLOWER * rate:
        line += (
            f"\n  slower than the {rate:g} msg/s asked: the hub, its worker, the doubles and "
            f"the senders share this machine and took {achieved:.0f} msg/s "
            "(--rate 0 sends as fast as they go)"
        )
    return line


def show_meant_dead(
    client: httpx.Client, token: str, meant_dead: list[tuple[str, str, str]]
) -> bool:
    """The contact centre asks what became of the deferral it was not allowed to grant."""
    ok = True
    for message_id, destination, reason in meant_dead:
        r = client.get(
            f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {token}"}
        )
        found = [d for d in r.json().get("deliveries", []) if d["destination"] == destination]
        state = found[0] if found else {}
        click.echo(
            f"  dead on purpose, the {TOO_LONG_DAYS}-day deferral to {destination}: "
            f"{state.get('state')} — {state.get('last_reason')}: {state.get('last_error')}"
        )
        ok = ok and (state.get("state"), state.get("last_reason")) == ("dead", reason)
    return ok


def verify_and_report(hub: Hub, looked_up: SeededClient) -> bool:
    hub.relay.checkpoint_if_due(force=True)
    with hub.reader.connect() as conn:
        report = verify(
            load_entries(conn),
            load_checkpoints(conn),
            load_verifier(hub.settings.audit_public_key_file),
        )
    state = "verifies" if report.ok else f"FAILS at entry {report.first_bad_seq}"
    click.echo(
        f"\nAudit trail: {report.entries_checked} entries, "
        f"{report.checkpoints_checked} signed checkpoints — {state}"
    )
    client = looked_up
    ref = hub.guards.hmacs.subject_ref(client.identity.canonical)
    with hub.reader.connect() as conn:
        extract = subject_report(conn, ref)
    header, *rows = to_csv(extract).splitlines()
    actions = Counter(row.split(",", 2)[1] for row in rows)
    listing = ", ".join(f"{action} {n}" for action, n in actions.items())
    click.echo(
        f"Art. 15 extract for the looked-up (fictional) person, {client.name}: "
        f"{len(rows)} accesses ({listing})"
    )
    shown = rows[:3] + [row for row in rows[3:] if row.split(",", 2)[1] == "queried"]
    for line in [header, *shown]:
        click.echo(f"  {line}")
    return report.ok


def short(problem: dict[str, Any]) -> str:
    """A refusal's detail without its list of the other agreements that did not fit."""
    return str(problem.get("detail")).split(" (also ", 1)[0]
