"""The console's page of protected-identity marks (section Compliance), for a district
administrator or a data-protection officer of the district.

``/console/compliance/protected``: per district how many persons its case system marks now,
the case system asked, the last sync, whether it failed and how often since the last success
(``hub.services.protected_status``: counts only, the read audited). A district administrator
also has "Sync now" (``POST …/protected/sync``): the same ``sync_protected`` as the API, the
command line and the relay's timer, for the administrator's districts; its result per district
(listed, marked, changed, lifted, or the failure's reason) is shown on the page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.compliance import BASE, acting_as
from hub.console.web import Console
from hub.services.protected_status import protected_status
from hub.services.protected_sync import ProtectedSync, sync_protected
from hub.services.users import Role

PAGE = f"{BASE}/protected"


def protection_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def page(request: Request, synced: ProtectedSync | None = None) -> Response:
        person = console.session_of(request).person
        status = protected_status(hub, acting_as(person))
        return console.render(
            request,
            "compliance_protected.html",
            status=status,
            synced=synced,
            may_sync=person.holds(Role.DISTRICT_ADMIN),
        )

    @router.get(PAGE)
    def protected_page(request: Request) -> Response:
        return page(request)

    @router.post(f"{PAGE}/sync")
    async def sync(request: Request) -> Response:
        # The roles that may sync through the API: a district administrator, not a DPO.
        principal = acting_as(console.session_of(request).person, (Role.DISTRICT_ADMIN,))
        synced = await run_in_threadpool(sync_protected, hub, principal)
        return await run_in_threadpool(page, request, synced)

    return router
