"""The console's machinery, shared by every page: who is signed in, CSRF, rendering, errors.

A page of the console follows one pattern (see ``hub/console/__init__.py``)::

    router = console.router()

    @router.get("/console/things")
    def things(request: Request, session: Annotated[ConsoleSession, Depends(console.user)]):
        principal = principal_for(session.person, Role.OPERATOR)   # 403 without the role
        found = list_things(console.hub, principal)              # the service scopes & audits
        return console.render(request, "things.html", things=found)

A router module has no ``from __future__ import annotations``: FastAPI evaluates the endpoints'
annotations at run time, and ``Depends(console.user)`` names the factory's local ``console``.

``console.router()`` gives routers whose routes (``ConsoleRoute``) check the CSRF token of
every POST before the endpoint runs (a form only needs ``{{ csrf_field() }}``), send a person
who is not signed in to the login page, and show a ``HubError`` as an HTML page with its
status and reason code, never a traceback.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from hub.bootstrap import Hub
from hub.console.labels import language, translator
from hub.errors import AuthenticationError, HubError, InputError, policy_for
from hub.services.sessions import ConsoleSession, check_csrf, session_for
from hub.services.users import HUB_WIDE, Person, Role

SESSION_COOKIE = "osh_session"
LOGIN_CSRF_COOKIE = "osh_login_csrf"  # before sign-in: a double-submit token
LANGUAGE_COOKIE = "osh_lang"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/console/login"
_SAFE = ("GET", "HEAD", "OPTIONS")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Section:
    """A part of the console, shown in the navigation to the holders of ``role`` (or of one
    of ``also``: a section several roles may use)."""

    key: str
    path: str
    role: Role
    also: tuple[Role, ...] = ()


SECTIONS = (
    Section("agreements", "/console/agreements", Role.DISTRICT_ADMIN),
    Section("audit", "/console/audit", Role.DPO),
    Section("compliance", "/console/compliance", Role.DISTRICT_ADMIN, also=(Role.DPO,)),
    Section("messages", "/console/messages", Role.OPERATOR),
    Section("users", "/console/users", Role.HUB_ADMIN),
)


def sections_for(person: Person) -> list[Section]:
    """The sections ``person`` may open, each with ``role`` set to the first of its roles the
    person holds (the home page names that role and its districts)."""
    shown = []
    for s in SECTIONS:
        held = [r for r in (s.role, *s.also) if person.holds(r)]
        if held:
            shown.append(replace(s, role=held[0]))
    return shown


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["HUB_WIDE"] = HUB_WIDE
    return env


TEMPLATES = _environment()


def stylesheet() -> bytes:
    return resources.files("hub.console").joinpath("static/console.css").read_bytes()


def _wants_secure(hub: Hub, request: Request) -> bool:
    mode = hub.settings.console_secure_cookie
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


class Console:
    """The console of one hub: its routers, the signed-in person, rendering."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.route_class = _route_class(self)

    def router(self) -> APIRouter:
        return APIRouter(route_class=self.route_class, include_in_schema=False)

    # -- who -----------------------------------------------------------------------------

    def session_of(self, request: Request) -> ConsoleSession:
        """The live session of this request (once per request), or 401 ``session_expired``."""
        found = getattr(request.state, "console_session", None)
        if isinstance(found, ConsoleSession):
            return found
        session = session_for(self.hub, request.cookies.get(SESSION_COOKIE))
        request.state.console_session = session
        return session

    def user(self, request: Request) -> ConsoleSession:
        """The dependency of every signed-in page: ``Depends(console.user)``."""
        return self.session_of(request)

    # -- output --------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        return language(request.cookies.get(LANGUAGE_COOKIE))

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        session = getattr(request.state, "console_session", None)
        lang = self.lang(request)
        csrf = session.csrf_token if isinstance(session, ConsoleSession) else ""
        csrf = context.pop("csrf", csrf)
        person = session.person if isinstance(session, ConsoleSession) else None

        def csrf_field() -> Markup:
            return Markup('<input type="hidden" name="{}" value="{}">').format(
                CSRF_FIELD, escape(csrf)
            )

        html = TEMPLATES.get_template(template).render(
            t=translator(lang),
            lang=lang,
            person=person,
            sections=sections_for(person) if person else [],
            csrf_field=csrf_field,
            here=request.url.path,
            here_quoted=quote(request.url.path, safe="/"),
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers=_HEADERS)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303, headers=_HEADERS)

    def set_cookie(
        self, request: Request, response: Response, name: str, value: str, max_age: int | None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=_wants_secure(self.hub, request),
        )

    def login_csrf(self, request: Request) -> str:
        return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)

    # -- errors --------------------------------------------------------------------------

    def error_page(self, request: Request, exc: HubError) -> Response:
        if isinstance(exc, AuthenticationError) and exc.reason == "session_expired":
            return self.redirect(f"{LOGIN_PATH}?expired=1")
        status = policy_for(exc).http_status
        return self.render(
            request,
            "error.html",
            status_code=status,
            status=status,
            reason=exc.reason,
            detail=exc.detail,
        )

    async def check_post(self, request: Request) -> None:
        """CSRF of a POST: the session's token, or before sign-in the double-submit cookie."""
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        submitted = submitted if isinstance(submitted, str) else None
        if request.url.path == LOGIN_PATH:
            check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE) or "", submitted)
            return
        session = await run_in_threadpool(self.session_of, request)
        check_csrf(session.csrf_token, submitted)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _route_class(console: Console) -> type[APIRoute]:
    class ConsoleRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            inner = super().get_route_handler()

            async def handler(request: Request) -> Response:
                try:
                    if request.method not in _SAFE:
                        await console.check_post(request)
                    return await inner(request)
                except HubError as exc:
                    return await run_in_threadpool(console.error_page, request, exc)
                except RequestValidationError as exc:
                    fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
                    bad = InputError(f"the form is incomplete: {fields}", reason="form_invalid")
                    return console.error_page(request, bad)

            return handler

    return ConsoleRoute
