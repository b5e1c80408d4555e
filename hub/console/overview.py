"""The console's start page, ``/console/``: the overview of the districts a person holds.

Everyone signed in lands here. Beside the sections its roles open, a person sees the traffic of
every district it holds a role in (a hub administrator: the whole hub) over the last hour, day
or week (``?hours=1|24|168``), as server-drawn charts with the same figures in tables, and the
alerts of now. The figures and the scope come from ``hub.services.overview``; this module only
formats times and draws (``hub.console.overview_charts``).
"""

import math
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response

from hub.console.labels import translator
from hub.console.overview_charts import latency_chart, stacked_bars, top_series
from hub.console.web import Console
from hub.services.overview import (
    DEFAULT_HOURS,
    PERCENTILES,
    WINDOWS,
    Overview,
    Series,
    overview,
    overview_principal,
)
from hub.services.sessions import ConsoleSession
from hub.services.users import Person


def seconds_text(value: float | None) -> str:
    """A latency bound as people read it: ms below a second, s, min, h; ">1 h" beyond."""
    if value is None:
        return "–"
    if math.isinf(value):
        return "> 1 h"
    if value < 1:
        return f"{value * 1000:g} ms"
    if value < 60:
        return f"{value:g} s"
    if value < 3600:
        return f"{value / 60:g} min"
    return f"{value / 3600:g} h"


def _figures(hub_overview: Overview, zone: ZoneInfo, lang: str) -> dict[str, Any]:
    t = translator(lang)
    fmt = "%H:%M" if hub_overview.hours <= 24 else "%d/%m %H:%M"

    def when(at: datetime) -> str:
        return at.astimezone(zone).strftime(fmt)

    others = t("overview.others")

    def chart(series: tuple[Series, ...], label: str) -> dict[str, object]:
        shown = top_series(series, others)
        return {
            "svg": stacked_bars(shown, hub_overview.starts, when, t(label)),
            "legend": shown,
            "label": label,
        }

    failures = (
        (hub_overview.retries, "#e69f00"),
        (hub_overview.dead, "#a40e26"),
    )
    return {
        "charts": [
            chart(hub_overview.by_district, "overview.by_district"),
            chart(hub_overview.by_type, "overview.by_type"),
            chart(hub_overview.by_destination, "overview.by_destination"),
        ],
        "failures": stacked_bars(failures, hub_overview.starts, when, t("overview.failures")),
        "failure_legend": failures,
        "latency": latency_chart(hub_overview.destinations, t("overview.latency"), seconds_text),
    }


def overview_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub
    zone = ZoneInfo(hub.settings.time_zone)

    @router.get("/console/")
    def home(
        request: Request,
        session: Annotated[ConsoleSession, Depends(console.user)],
        hours: int = DEFAULT_HOURS,
    ) -> Response:
        person: Person = session.person
        if not person.roles:  # nothing to see yet: the page says whom to ask
            return console.render(request, "overview.html", seen=None)
        seen = overview(hub, overview_principal(person), hours)
        return console.render(
            request,
            "overview.html",
            seen=seen,
            windows=list(WINDOWS),
            percentiles=PERCENTILES,
            seconds=seconds_text,
            **_figures(seen, zone, console.lang(request)),
        )

    return router
