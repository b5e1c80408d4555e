"""The console's Agreements pages, for district administrators (role ``district_admin``).

List and filter; one agreement in plain language (the art. 28 terms a lawyer reads) with its
versions side by side and what changed; a new agreement or a new version from a form that
offers only the registry's types and categories and the registered systems, each problem shown
beside its field; import from a file; revoke with a reason.

Every call goes through ``hub.services.agreements`` / ``agreement_forms`` as the principal of
the person's ``district_admin`` role: an agreement of another district is a 404 there, and
lists never hold one. Agreements name systems and purposes, not data subjects: these pages show
no one's personal data, and each change is audited by the service (``agreement_changed``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hub.console.web import Console
from hub.errors import InputError
from hub.services.agreement_forms import (
    agreement_choices,
    find_agreements,
    form_values,
    save_agreement_form,
    versions_compared,
)
from hub.services.agreements import (
    get_agreement,
    import_agreement_file,
    revoke_agreement,
)
from hub.services.principal import Principal
from hub.services.users import Role, principal_for

BASE = "/console/agreements"
MAX_UPLOAD_BYTES = 1_000_000


def agreements_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def admin(request: Request) -> Principal:
        """The person signed in, as the principal of the role these pages need (403 without)."""
        return principal_for(console.session_of(request).person, Role.DISTRICT_ADMIN)

    @router.get(BASE)
    def agreement_list(
        request: Request, district: str = "", status: str = "", q: str = ""
    ) -> Response:
        principal = admin(request)
        found = find_agreements(hub, principal, district=district, status=status, text=q)
        return console.render(
            request,
            "agreements_list.html",
            agreements=found,
            districts=sorted(principal.districts or {a.district for a in found}),
            chosen={"district": district, "status": status, "q": q},
            done=request.query_params.get("done", ""),
        )

    def form_page(
        request: Request,
        principal: Principal,
        values: dict[str, list[str]],
        agreement_id: str | None,
        problems: dict[str, str] | None = None,
    ) -> Response:
        return console.render(
            request,
            "agreements_form.html",
            status_code=422 if problems else 200,
            choices=agreement_choices(
                hub,
                principal,
                keep=get_agreement(hub, principal, agreement_id) if agreement_id else None,
            ),
            values=values,
            problems=problems or {},
            agreement_id=agreement_id,
            action=f"{BASE}/{agreement_id}/edit" if agreement_id else f"{BASE}/new",
        )

    @router.get(f"{BASE}/new")
    def new_form(request: Request) -> Response:
        return form_page(request, admin(request), form_values(None), None)

    @router.get(f"{BASE}/import")
    def import_form(request: Request) -> Response:
        admin(request)
        return console.render(request, "agreements_import.html", problem=None)

    @router.post(f"{BASE}/import")
    async def import_file(request: Request) -> Response:
        principal = admin(request)
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InputError("choose an agreement file (TOML) to import", reason="form_invalid")
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
        try:
            if len(raw) > MAX_UPLOAD_BYTES:
                raise InputError(f"the file is over {MAX_UPLOAD_BYTES} bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"the file is not UTF-8 text: {exc.reason}") from exc
            stored = await run_in_threadpool(
                import_agreement_file, hub, principal, text, upload.filename
            )
        except InputError as exc:
            return console.render(
                request, "agreements_import.html", status_code=422, problem=exc.detail
            )
        return console.redirect(f"{BASE}?done=imported-{len(stored)}")

    @router.post(f"{BASE}/new")
    async def create(request: Request) -> Response:
        return await _save(request, admin(request), None)

    @router.get(BASE + "/{agreement_id}")
    def detail(request: Request, agreement_id: str) -> Response:
        principal = admin(request)
        pairs = versions_compared(hub, principal, agreement_id)
        return console.render(
            request,
            "agreements_detail.html",
            latest=pairs[0].version,
            pairs=pairs,
            done=request.query_params.get("done", ""),
        )

    @router.get(BASE + "/{agreement_id}/edit")
    def edit_form(request: Request, agreement_id: str) -> Response:
        principal = admin(request)
        latest = get_agreement(hub, principal, agreement_id)
        return form_page(request, principal, form_values(latest), agreement_id)

    @router.post(BASE + "/{agreement_id}/edit")
    async def amend(request: Request, agreement_id: str) -> Response:
        return await _save(request, admin(request), agreement_id)

    async def _save(request: Request, principal: Principal, agreement_id: str | None) -> Response:
        form = await request.form()
        values: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str) and key != "csrf_token":
                values.setdefault(key, []).append(value)
        try:
            saved = await run_in_threadpool(
                save_agreement_form, hub, principal, values, agreement_id
            )
        except InputError as exc:
            fields = exc.context.get("fields")
            if not isinstance(fields, dict):
                raise
            return await run_in_threadpool(
                form_page, request, principal, values, agreement_id, fields
            )
        return console.redirect(f"{BASE}/{saved.id}?done=saved-{saved.version}")

    @router.post(BASE + "/{agreement_id}/revoke")
    async def revoke(request: Request, agreement_id: str) -> Response:
        principal = admin(request)
        reason = (await request.form()).get("reason")
        text = reason.strip() if isinstance(reason, str) else ""
        revoked = await run_in_threadpool(revoke_agreement, hub, agreement_id, text, principal)
        return console.redirect(f"{BASE}/{revoked.id}?done=revoked-{revoked.version}")

    return router
