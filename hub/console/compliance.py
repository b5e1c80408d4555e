"""The console's retention page (section Compliance), for a district administrator or a
data-protection officer of the district.

``/console/compliance``: per district, agreement and categories the retention rule and its
counts (stored, shredded, due, held; no personal data), the legal holds of the person's
districts, a form that places a hold (on a district, or on one person given by identity number
in the form body, never in a URL) and a form per hold that lifts it. Both need a reason; the
services (``hub.services.retention``, ``hub.services.legal_holds``) scope them to the person's
districts and audit placing and lifting with the person as actor.

A district administrator also runs the retention job from the page (``POST …/run``): "count
what would end now" (a dry run) or "end retention now", which needs the confirmation box ticked
(checked here too, not only by the browser: ``confirmation_required``); the same
``run_retention`` as the API and the command line, so the same scope and audit entries. The
result (per district, agreement and categories: due, held, shredded) is shown on the page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from hub.console.web import Console
from hub.errors import InputError
from hub.services import legal_holds, retention
from hub.services.principal import Principal
from hub.services.retention import RetentionRun
from hub.services.users import Person, Role, principal_for

BASE = "/console/compliance"
# The roles that look after a district's compliance, in the order the page acts as them.
STEWARDS = (Role.DISTRICT_ADMIN, Role.DPO)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def acting_as(person: Person, roles: tuple[Role, ...] = STEWARDS) -> Principal:
    """The principal of the first of ``roles`` the person holds; 403 if none."""
    held = [r for r in roles if person.holds(r)]
    return principal_for(person, held[0] if held else roles[0])


def retention_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def steward(request: Request) -> Principal:
        return acting_as(console.session_of(request).person)

    def page(request: Request, done: str = "", ran: RetentionRun | None = None) -> Response:
        principal = steward(request)
        status = retention.retention_status(hub, principal)
        holds = legal_holds.list_holds(hub, principal, include_lifted=True)
        return console.render(
            request,
            "compliance_retention.html",
            status=status,
            holds=holds,
            districts=sorted(principal.districts or ()),
            may_run=console.session_of(request).person.holds(Role.DISTRICT_ADMIN),
            ran=ran,
            done=done if done in ("placed", "lifted") else "",
        )

    @router.get(BASE)
    def retention_page(request: Request, done: str = "") -> Response:
        return page(request, done)

    @router.post(f"{BASE}/run")
    async def run(request: Request) -> Response:
        # The roles that may run it through the API: a district administrator, not a DPO.
        principal = acting_as(console.session_of(request).person, (Role.DISTRICT_ADMIN,))
        form = await request.form()
        dry_run = form_text(form, "mode") != "end"
        if not dry_run and form_text(form, "confirm") != "yes":
            raise InputError(
                "ending retention destroys payloads for good: tick the confirmation first",
                reason="confirmation_required",
            )
        ran = await run_in_threadpool(
            lambda: retention.run_retention(hub, principal, dry_run=dry_run)
        )
        return await run_in_threadpool(page, request, "", ran)

    @router.post(f"{BASE}/holds")
    async def place(request: Request) -> Response:
        principal = steward(request)
        form = await request.form()
        await run_in_threadpool(
            lambda: legal_holds.place_hold(
                hub,
                principal,
                form_text(form, "district"),
                reason=form_text(form, "reason"),
                subject=form_text(form, "subject") or None,
            )
        )
        return console.redirect(f"{BASE}?done=placed")

    @router.post(BASE + "/holds/{hold_id}/lift")
    async def lift(request: Request, hold_id: str) -> Response:
        principal = steward(request)
        form = await request.form()
        await run_in_threadpool(
            lambda: legal_holds.lift_hold(hub, principal, hold_id, reason=form_text(form, "reason"))
        )
        return console.redirect(f"{BASE}?done=lifted")

    return router
