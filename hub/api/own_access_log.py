"""A person's own access log for the municipality's e-services (issue 15 §3).

``POST /api/v1/own-access-log`` with the token of a system registered ``--role access_log``
and a JSON body naming the one person the e-service's own e-identification (BankID) proved:
``{"identity_number": "19121212-1212", "scheme": "se", "identification": "bankid:<order ref>",
"format": "json"}``. The number travels in the body, never in a URL. The answer is the art. 15
extract as JSON or PDF (``format``). A token without the grant gets 404; a body naming anything
more than one person is 422 (unknown members are refused). Each read is audited
(``hub.services.own_access_log``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.bootstrap import Hub
from hub.services.own_access_log import own_access_log


class OwnAccessLogBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity_number: str = Field(
        min_length=10, max_length=13, description="The person the e-identification proved"
    )
    scheme: Literal["se", "dk"] = "se"
    identification: str = Field(
        min_length=1,
        max_length=100,
        description="The e-identification this rests on, e.g. bankid:<order reference>",
    )
    format: Literal["json", "pdf"] = "json"


def own_access_log_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["own access log"])

    @router.post(
        "/own-access-log",
        summary="The art. 15 extract of the one person the e-service identified (JSON or PDF)",
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def read(
        body: OwnAccessLogBody, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        principal = await run_in_threadpool(hub.authenticator.access_log_for, authorization)
        found = await run_in_threadpool(
            lambda: own_access_log(
                hub,
                principal,
                identity_number=body.identity_number,
                scheme=body.scheme,
                identification=body.identification,
                fmt=body.format,
            )
        )
        if body.format == "pdf":
            return Response(
                await run_in_threadpool(found.as_pdf),
                media_type="application/pdf",
                headers={"Content-Disposition": 'attachment; filename="access-log.pdf"'},
            )
        return found.as_json()

    return router
