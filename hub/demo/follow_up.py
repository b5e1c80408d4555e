"""The demo's referral follow-up: the callback deadlines of the referrals it just sent, and what
a district administrator's API lists as overdue once those deadlines have passed.

The demo cannot wait two working days, so it asks the API "as at" a later moment (the
``at`` parameter every referral listing takes): 09:00 on the day after a normal referral sent
now is due, when every referral of this run is overdue unless answered.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import click
import httpx

from hub.bootstrap import Hub
from hub.demo.scenario import DISTRICTS
from hub.services.agreements import register_system
from hub.services.principal import Principal
from hub.services.referrals import referral_summary


def show_overdue(hub: Hub, client: httpx.Client) -> bool:
    """Print the follow-up and one overdue referral as the API lists it; True if it did."""
    zone = ZoneInfo(hub.settings.time_zone)
    calendar = hub.follow_up.calendar
    now = hub.clock()
    due = calendar.deadline("normal", now)
    later = due.astimezone(zone).replace(hour=9)
    counts = referral_summary(hub, Principal.operator("operator:demo"), at=now)
    waiting = {d: c["open"] + c["overdue"] for d, c in counts.items() if c["open"] + c["overdue"]}
    closed = sum(c["closed"] for c in counts.values())
    click.echo(
        f"\nReferral follow-up: {sum(waiting.values())} referrals wait for a callback in "
        f"{len(waiting)} districts (urgent ones by midnight, the others by "
        f"{(due - timedelta(seconds=1)).astimezone(zone):%a %d %b %H:%M} — two working days, "
        "Swedish holidays excluded); "
        + (
            f"{closed} closed by the district's answer (the SDK reply above)"
            if closed
            else "a district's SDK reply or an answer naming the case closes one"
        )
    )
    district = max(counts, key=lambda d: counts[d]["open"], default=DISTRICTS[0])
    token = register_system(
        hub,
        f"{district}-admin",
        "district administrator (demo)",
        "demo",
        "admin",
        districts=[district],
    )
    answer = client.get(
        "/api/v1/referrals/overdue",
        params={"at": later.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    if answer.status_code != 200:
        click.echo(f"  overdue list: {answer.status_code} {answer.json().get('reason')}")
        return False
    listed = answer.json()["referrals"]
    click.echo(
        f"  {district}'s administrator asks GET /api/v1/referrals/overdue as at "
        f"{later:%a %d %b %H:%M}: {len(listed)} overdue, only its own district, no names, "
        "no identity or case numbers; each look audited"
    )
    for item in listed[:1]:
        click.echo(
            f"    {item['id']}  {item['urgency']:<7} deadline {item['deadline'][:16]} UTC, "
            f"{item['late_seconds'] // 3600} h late"
        )
    return bool(listed)
