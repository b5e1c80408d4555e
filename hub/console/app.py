"""The console mounted in the hub's application: ``install_console(app, hub)``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from hub.bootstrap import Hub
from hub.console.agreements import agreements_router
from hub.console.audit import audit_router
from hub.console.compliance import retention_router
from hub.console.messages import messages_router
from hub.console.messages_search import search_router
from hub.console.overview import overview_router
from hub.console.pages import fallback_router, pages_router
from hub.console.people import people_router
from hub.console.protection import protection_router
from hub.console.records import records_router
from hub.console.review import review_router
from hub.console.web import Console

# Each section's router factory; other sections add theirs here.
ROUTERS: list[Callable[[Console], APIRouter]] = [
    pages_router,
    overview_router,
    people_router,
    agreements_router,
    audit_router,
    review_router,
    retention_router,
    protection_router,
    records_router,
    search_router,  # before messages_router: /messages/search is no message id
    messages_router,
]


def install_console(app: FastAPI, hub: Hub) -> Console:
    """Add every console router to ``app``, and last an HTML 404 for any other console path."""
    console = Console(hub)
    for make in [*ROUTERS, fallback_router]:
        router = make(console)
        # Only ``console.router()`` routes check the CSRF token of every POST and render
        # errors as pages; a section built on a plain APIRouter would skip both.
        if router.route_class is not console.route_class:
            raise TypeError(f"{make.__name__} must build its router with console.router()")
        app.include_router(router)
    return console
