"""The administrators' API: agreements, with an ``admin`` token (``systems add --role admin
--district D``).

The same operations as ``omsorgshub agreements …``, through the same use cases
(``hub.services.agreements``): every change is a new version with its ``agreement_changed``
audit entry, and the token's districts bound what it sees and changes (404 outside them, 403
for an import naming another district). An agreement is uploaded in its strict TOML file
format, so the API and the CLI accept exactly the same documents.
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
from hub.services import agreements as agreement_service
from hub.services.principal import Principal

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

    def admin(authorization: str | None) -> Principal:
        return hub.authenticator.admin_for(authorization)

    @router.get("/agreements", summary="The latest version of every agreement")
    async def list_agreements(
        authorization: Annotated[str | None, Header()] = None,
    ) -> list[dict[str, Any]]:
        principal = await run_in_threadpool(admin, authorization)
        items = await run_in_threadpool(agreement_service.list_agreements, hub, principal)
        return [agreement_view(a) for a in items]

    @router.get("/agreements/{agreement_id}", summary="Every version of one agreement")
    async def agreement_history(
        agreement_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> list[dict[str, Any]]:
        principal = await run_in_threadpool(admin, authorization)
        versions = await run_in_threadpool(
            agreement_service.agreement_history, hub, principal, agreement_id
        )
        return [agreement_view(a) for a in versions]

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
        principal = await run_in_threadpool(admin, authorization)
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
        stored = await run_in_threadpool(
            agreement_service.import_agreement_file, hub, principal, text, "request body"
        )
        return [agreement_view(a) for a in stored]

    @router.post("/agreements/{agreement_id}/revoke", summary="Revoke an agreement (with reason)")
    async def revoke(
        agreement_id: str,
        body: Revocation,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        revoked = await run_in_threadpool(
            agreement_service.revoke_agreement, hub, agreement_id, body.reason, principal
        )
        return agreement_view(revoked)

    return router
