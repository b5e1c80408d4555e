"""The console's people page (hub administrators): accounts, their roles per district, and
the forms that add an account, grant or revoke a role, and disable or enable an account.

Every change goes through ``hub.services.users`` as the hub administrator's principal, which
records it with the person as actor.
"""

# No ``from __future__ import annotations`` in a router module: FastAPI reads the endpoints'
# annotations at run time, and ``Depends(console.user)`` names a local of the factory.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from hub.console.web import Console
from hub.errors import InputError
from hub.services.sessions import ConsoleSession
from hub.services.users import (
    ROLES,
    Role,
    add_user,
    grant,
    list_users,
    principal_for,
    revoke,
    set_user_active,
)

PATH = "/console/users"


def _districts(text: str) -> list[str]:
    return [d for d in text.replace(",", " ").split() if d]


def people_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub
    signed_in = Depends(console.user)

    @router.get(PATH)
    def people(
        request: Request, session: Annotated[ConsoleSession, signed_in], done: str | None = None
    ) -> Response:
        principal = principal_for(session.person, Role.HUB_ADMIN)
        found = list_users(hub, principal)
        return console.render(request, "users.html", people=found, roles=ROLES, done=done)

    @router.post(f"{PATH}/add")
    def add(
        session: Annotated[ConsoleSession, signed_in],
        name: Annotated[str, Form()],
        display_name: Annotated[str, Form()],
        password: Annotated[str, Form()],
    ) -> Response:
        principal = principal_for(session.person, Role.HUB_ADMIN)
        add_user(hub, principal, name.strip(), display_name, password)
        return console.redirect(f"{PATH}?done=added")

    @router.post(f"{PATH}/role")
    def change_role(
        session: Annotated[ConsoleSession, signed_in],
        name: Annotated[str, Form()],
        role: Annotated[str, Form()],
        action: Annotated[str, Form()],
        districts: Annotated[str, Form()] = "",
    ) -> Response:
        principal = principal_for(session.person, Role.HUB_ADMIN)
        if action not in ("grant", "revoke"):
            raise InputError(f"unknown action {action!r}", reason="form_invalid")
        change = grant if action == "grant" else revoke
        change(hub, principal, name, role, _districts(districts))
        return console.redirect(f"{PATH}?done={action.removesuffix('e')}ed")

    @router.post(f"{PATH}/active")
    def change_active(
        session: Annotated[ConsoleSession, signed_in],
        name: Annotated[str, Form()],
        active: Annotated[str, Form()],
        reason: Annotated[str, Form()],
    ) -> Response:
        principal = principal_for(session.person, Role.HUB_ADMIN)
        set_user_active(hub, principal, name, active == "yes", reason)
        return console.redirect(f"{PATH}?done={'enabled' if active == 'yes' else 'disabled'}")

    return router
