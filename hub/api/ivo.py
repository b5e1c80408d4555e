"""The IVO worklist over HTTP, for a district administrator's token (``systems add NAME
--role admin --district D``): the same use case as ``omsorgshub ivo report``
(``hub.services.ivo_reports``), answered as JSON instead of files. Reading it is audited as
an export, one entry per person reported; a district outside the token's is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool

from hub.bootstrap import Hub
from hub.ivo.worklist import csv_values
from hub.services.ivo_reports import build_worklist


def ivo_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/admin/ivo", tags=["IVO reporting"])

    @router.get(
        "/worklist",
        summary="A quarter's IVO individual reports of a district (audited as an export)",
    )
    async def worklist(
        district: Annotated[str, Query(min_length=1, max_length=100)],
        quarter: Annotated[str, Query(pattern=r"^\d{4}[Qq][1-4]$")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        result = await run_in_threadpool(build_worklist, hub, principal, district, quarter)
        return {
            "district": result.district,
            "quarter": result.quarter,
            "counts": result.counts,
            "reports": [csv_values(row) for row in result.rows],
            "incomplete": [row.reference for row in result.incomplete],
            "unreadable": result.unreadable,
        }

    return router
