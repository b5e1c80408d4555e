"""The console's own pages: sign in, sign out (here or everywhere), language, stylesheet (the
start page with its overview is ``hub.console.overview``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.labels import LANGUAGES
from hub.console.web import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    Console,
    stylesheet,
)
from hub.errors import AuthenticationError, NotFound
from hub.services.sessions import ConsoleSession, sign_in, sign_out, sign_out_everywhere

_LANGUAGE_SECONDS = 365 * 24 * 3600


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def pages_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub
    css = stylesheet()

    @router.get("/console/static/console.css")
    def console_css() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    def login_page(
        request: Request, message: str | None, status_code: int = 200, name: str = ""
    ) -> Response:
        token = console.login_csrf(request)
        page = console.render(
            request, "login.html", status_code=status_code, csrf=token, message=message, name=name
        )
        console.set_cookie(request, page, LOGIN_CSRF_COOKIE, token, None)
        return page

    @router.get(LOGIN_PATH)
    def login_form(
        request: Request, expired: str | None = None, out: str | None = None
    ) -> Response:
        message = "login.expired" if expired else "logout.done" if out else None
        return login_page(request, message)

    @router.post(LOGIN_PATH)
    def login(
        request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        try:
            token, _ = sign_in(hub, name.strip(), password, _client(request))
        except AuthenticationError as exc:
            message = "login.throttled" if exc.reason == "login_throttled" else "login.failed"
            return login_page(request, message, status_code=401, name=name.strip()[:100])
        response = console.redirect("/console/")
        console.set_cookie(request, response, SESSION_COOKIE, token, None)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
        return response

    def _signed_out() -> Response:
        response = console.redirect(f"{LOGIN_PATH}?out=1")
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    @router.post("/console/logout")
    def logout(request: Request) -> Response:
        session: ConsoleSession = console.session_of(request)  # the POST check found it
        sign_out(hub, session)
        return _signed_out()

    @router.post("/console/logout-everywhere")
    def logout_everywhere(request: Request) -> Response:
        sign_out_everywhere(hub, console.session_of(request))
        return _signed_out()

    @router.get("/console")
    def bare() -> Response:
        return console.redirect("/console/")

    @router.get("/console/language/{lang}")
    async def choose_language(request: Request, lang: str, back: str = "/console/") -> Response:
        target = back if back.startswith("/console") and "//" not in back else "/console/"
        response = console.redirect(target)
        if lang in LANGUAGES:
            await run_in_threadpool(
                console.set_cookie, request, response, LANGUAGE_COOKIE, lang, _LANGUAGE_SECONDS
            )
        return response

    return router


def fallback_router(console: Console) -> APIRouter:
    """Included after every section: an unknown console path is a 404 page, not JSON."""
    router = console.router()

    @router.get("/console/{rest:path}")
    def unknown(request: Request, rest: str) -> Response:
        console.session_of(request)  # signed out: to the sign-in page, as everywhere
        raise NotFound("no such page in the console", reason="page_not_found")

    return router
