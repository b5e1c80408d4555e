"""The administrators' API: agreements, with an ``admin`` token (``systems add --role admin``).

The same operations as ``omsorgshub agreements …``, through the same audited functions
(``hub.services.agreements``): every change is a new version with its ``agreement_changed``
audit entry. An
agreement is uploaded in its strict TOML file format, so the API and the CLI accept exactly the
same documents.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from hub.services.agreements import (
    add_agreements,
    contracts_errors,
    parse_agreements,
    revoke_agreement,
)

_TOML_TYPES = {"application/toml", "text/plain", "application/x-toml"}
_MAX_FILE = 256 * 1024


def agreement_view(a: Agreement) -> dict[str, Any]:
    out: dict[str, Any] = {"ref": a.ref}
    for f in dataclasses.fields(a):
        value = getattr(a, f.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[f.name] = value
    return out


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


def admin_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/admin", tags=["administration"])

    def admin(authorization: str | None) -> str:
        return f"admin:{hub.authenticator.admin_for(authorization)}"

    @router.get("/agreements", summary="The latest version of every agreement")
    async def list_agreements(
        authorization: Annotated[str | None, Header()] = None,
    ) -> list[dict[str, Any]]:
        await run_in_threadpool(admin, authorization)

        def read() -> list[Agreement]:
            with contracts_errors(), hub.reader.connect() as conn:
                return hub.agreement_store.list_current(conn)

        return [agreement_view(a) for a in await run_in_threadpool(read)]

    @router.get("/agreements/{agreement_id}", summary="Every version of one agreement")
    async def agreement_history(
        agreement_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> list[dict[str, Any]]:
        await run_in_threadpool(admin, authorization)

        def read() -> list[Agreement]:
            with contracts_errors(), hub.reader.connect() as conn:
                return hub.agreement_store.history(conn, agreement_id)

        return [agreement_view(a) for a in await run_in_threadpool(read)]

    @router.post(
        "/agreements",
        summary="Add or amend agreements (a TOML agreement file, as `agreements import`)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/toml": {"schema": {"type": "string"}}},
            }
        },
    )
    async def import_agreements(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        content_type: Annotated[str | None, Header()] = None,
    ) -> list[dict[str, Any]]:
        actor = await run_in_threadpool(admin, authorization)
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in _TOML_TYPES:
            raise UnsupportedMediaType(
                f"send the agreement file as application/toml, not {media!r}"
            )
        data = await request.body()
        if len(data) > _MAX_FILE:
            raise PayloadTooLarge(f"an agreement file may be at most {_MAX_FILE} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("the agreement file is not UTF-8", reason="agreement_invalid") from exc

        def store() -> list[Agreement]:
            return add_agreements(hub, parse_agreements(hub, text, "request body"), actor)

        return [agreement_view(a) for a in await run_in_threadpool(store)]

    @router.post("/agreements/{agreement_id}/revoke", summary="Revoke an agreement (with reason)")
    async def revoke(
        agreement_id: str,
        body: Revocation,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        actor = await run_in_threadpool(admin, authorization)
        revoked = await run_in_threadpool(revoke_agreement, hub, agreement_id, body.reason, actor)
        return agreement_view(revoked)

    return router
