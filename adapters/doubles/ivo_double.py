"""A local double of IVO's e-service for reporting decisions not executed within three months.

IVO has no API for these reports: a municipal officer logs in at ivo.se (BankID or SITHS) and
fills a multi-step web form. This double is that web application in small, so the hub's ``ivo``
robot can be tested against real HTTP, HTML forms, cookies and CSRF tokens:

    GET  /login, POST /login      a password form (user and password from the command line)
                                  instead of BankID/SITHS; sets the ``ivo_session`` cookie
    GET  /rapport/ny              starts a new report (forgets an unfinished one)
    GET  /rapport/<step>          the step's form (``adapters.doubles.ivo_form``), its fields
    POST /rapport/<step>          depending on earlier answers; each POST checks the CSRF token
                                  and every field, answering the form again with the messages
                                  (200) or 303 to the next step; ``granska`` sends the report
    GET  /rapport/kvitto/<nr>     the receipt page with IVO's receipt number
    GET  /rapporter?referens=R    the reports this double received (HTML), searchable by the
                                  municipality's own reference

Without a valid session every page answers 303 to ``/login``. A session lives
``session_seconds`` from login. A bad or missing CSRF token is 403. A personal identity number
in any field is refused (``ivo_form``), and so is a report on a decision reported before under
another individual's code (the same code for the person through the reporting period).

For tests, beside the shared controls of ``adapters.doubles.wsgi_server`` (modes ``up``,
``down``, ``slow`` and ``unavailable``: 503 maintenance page): ``GET /_received`` lists the
received reports as JSON, and ``POST /_ivo`` with ``{"fail_submissions": n}`` makes the next
``n`` sends fail with a validation message, ``{"expire_sessions": true}`` ends every session now
and ``{"expire_sessions_after": n}`` after the next ``n`` requests (a session lost midway).
The same exist as methods and as command-line flags. Reports are kept in memory only; feed it
fictional data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles import ivo_pages as pages
from adapters.doubles.ivo_form import (
    STEPS,
    fields_of,
    identity_number_in,
    review_rows,
    summary_values,
    validate,
)
from adapters.doubles.ivo_pages import (
    forbidden,
    html_answer,
    posted_form,
    query_of,
    redirect,
    session_cookie,
)
from adapters.doubles.ivo_sessions import Session, SessionStore
from adapters.doubles.wsgi_server import (
    ServedDouble,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)

_IVO_CONTROLS = frozenset({"fail_submissions", "expire_sessions", "expire_sessions_after"})
MODES = ("up", "down", "slow", "unavailable")
ADMINISTRATIONS = ("Vård- och omsorgsnämnden", "Socialnämnden")
REJECTION = (
    "Rapporten kunde inte tas emot: uppgifterna om beslutet stämmer inte med IVO:s "
    "tidigare rapporter för samma individ. Kontrollera beslutsreferens och beslutsdatum."
)
CODE_CHANGED = (
    "Individkoden skiljer sig från tidigare rapporter om samma beslut. En individ ska ha "
    "samma kod under hela rapporteringsperioden."
)


class IvoDouble(ServedDouble):
    """IVO's e-service on ``host:port`` (port 0 picks a free one)."""

    modes = MODES
    counters = ("logins", "submissions", "rejected")
    path = "/"  # the e-service root: a client is given the base address
    software = "OmsorgshubIvoDouble/1"
    max_body_bytes = 256 * 1024

    _sessions: SessionStore
    _reports: list[dict[str, str]]
    _fail_submissions: int

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        user: str = "robot",
        password: str = "fiktivt-lösen-1",  # noqa: S107  # a double's made-up password
        municipality: str = "Exempelstad kommun",
        administrations: tuple[str, ...] = ADMINISTRATIONS,
        session_seconds: float = 900.0,
        today: date | None = None,
    ) -> None:
        self.user, self._password = user, password
        self.municipality, self.administrations = municipality, administrations
        self.session_seconds = session_seconds
        self._today = today
        super().__init__(host, port)

    # -- controls and observation -------------------------------------------------------------

    def received(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(report) for report in self._reports]

    def fail_next_submissions(self, count: int) -> None:
        with self._lock:
            self._fail_submissions = count

    def expire_sessions(self, after_requests: int = 0) -> None:
        """End every session now, or once ``after_requests`` more requests have come."""
        self._sessions.expire(after_requests)

    def _observations(self) -> dict[str, object]:
        return {"received": len(self._reports), "sessions": len(self._sessions)}

    def _forget(self) -> None:
        self._sessions = SessionStore(self.session_seconds)
        self._reports, self._fail_submissions = [], 0

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        route = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if route == ("GET", "/_received"):
            return json_answer(start_response, HTTPStatus.OK, self.received())
        if route == ("POST", "/_ivo"):
            return self._ivo_control(environ, start_response)
        if self._meet_mode() == "unavailable":
            closed = pages.message_page(
                "Tjänsten är inte tillgänglig",
                "E-tjänsten är stängd för underhåll. Försök igen senare.",
            )
            return html_answer(start_response, HTTPStatus.SERVICE_UNAVAILABLE, closed,
                               [("Retry-After", "1")])  # fmt: skip
        self._sessions.count_request()
        method, path = route
        if path == "/login":
            return self._login(environ, start_response, method)
        session = self._sessions.of(environ.get("HTTP_COOKIE", ""))
        if session is None or session[1].user is None:
            return redirect(start_response, "/login")
        current = session[1]
        if (method, path) in (("GET", "/"), ("GET", "/rapport/ny")):
            with self._lock:
                current.answers, current.done = {}, []
            return redirect(start_response, f"/rapport/{STEPS[0]}")
        if method == "GET" and path == "/rapporter":
            wanted = query_of(environ).get("referens", "").strip()
            with self._lock:
                found = [r for r in self._reports if not wanted or r["er_referens"] == wanted]
            return html_answer(start_response, HTTPStatus.OK, pages.list_page(found, wanted))
        if method == "GET" and path.startswith("/rapport/kvitto/"):
            return html_answer(
                start_response, HTTPStatus.OK, pages.receipt_page(path.rsplit("/")[-1])
            )
        step = path.removeprefix("/rapport/")
        if path.startswith("/rapport/") and step in STEPS and method in ("GET", "POST"):
            return self._step(environ, start_response, current, step, method)
        return html_answer(start_response, HTTPStatus.NOT_FOUND, pages.message_page(
            "Sidan finns inte", "Sidan du sökte finns inte."))  # fmt: skip

    def _login(
        self, environ: WSGIEnvironment, start_response: StartResponse, method: str
    ) -> list[bytes]:
        session = self._sessions.of(environ.get("HTTP_COOKIE", ""))
        if method == "GET" or session is None:
            token, fresh = self._sessions.new()
            return html_answer(start_response, HTTPStatus.OK, pages.login_page(fresh.csrf),
                         [session_cookie(token)])  # fmt: skip
        if method != "POST":
            return html_answer(
                start_response, HTTPStatus.METHOD_NOT_ALLOWED, b"", [("Allow", "GET")]
            )
        old_token, pending = session
        form = posted_form(environ)
        if not secrets.compare_digest(form.get("csrf_token", ""), pending.csrf):
            return forbidden(start_response)
        user, password = form.get("anvandare", ""), form.get("losenord", "")
        if not (
            secrets.compare_digest(user.encode(), self.user.encode())
            and secrets.compare_digest(password.encode(), self._password.encode())
        ):
            messages = ["Fel användarnamn eller lösenord."]
            return html_answer(
                start_response, HTTPStatus.OK, pages.login_page(pending.csrf, messages)
            )
        self._sessions.drop(old_token)  # a new id after login (no session fixation)
        self._count("logins")
        token, _ = self._sessions.new(user)
        return redirect(start_response, "/rapport/ny", [session_cookie(token)])

    def _step(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        session: Session,
        step: str,
        method: str,
    ) -> list[bytes]:
        missing = [s for s in STEPS[: STEPS.index(step)] if s not in session.done]
        if missing:
            return redirect(start_response, f"/rapport/{missing[0]}")
        fields = fields_of(step, session.answers, self.administrations)
        if method == "GET":
            return self._render(start_response, session, step, session.answers)
        form = posted_form(environ)
        if not secrets.compare_digest(form.get("csrf_token", ""), session.csrf):
            return forbidden(start_response)
        values = {f.name: form.get(f.name, "") for f in fields}
        problems = validate(step, values, session.answers, self.today(), self.administrations)
        if problems:  # the form again, without any identity number typed into it
            shown = {k: "" if identity_number_in(v) else v for k, v in values.items()}
            return self._render(start_response, session, step, shown, problems)
        with self._lock:
            session.answers.update(values)
            session.done = [s for s in session.done if STEPS.index(s) < STEPS.index(step)]
            session.done.append(step)
        if step != "granska":
            return redirect(start_response, f"/rapport/{STEPS[STEPS.index(step) + 1]}")
        received, said = self._receive(session)
        if not received:
            return self._render(start_response, session, step, values, [said])
        return redirect(start_response, f"/rapport/kvitto/{quote(said)}")

    def _render(
        self,
        start_response: StartResponse,
        session: Session,
        step: str,
        values: dict[str, str],
        problems: list[str] | None = None,
    ) -> list[bytes]:
        fields = fields_of(step, session.answers, self.administrations)
        summary: list[tuple[str, str]] = []
        if step == "verksamhet":
            summary = [("Kommun", self.municipality)]
        elif step == "granska":
            summary = review_rows(session.answers, self.administrations)
        html = pages.step_page(step, fields, values, session.csrf, problems or (), summary)
        return html_answer(start_response, HTTPStatus.OK, html)

    def _receive(self, session: Session) -> tuple[bool, str]:
        """Store the session's report: ``(True, receipt number)``, or ``(False, IVO's reason)``."""
        answers = session.answers
        with self._lock:
            earlier = [
                r for r in self._reports if r["beslutsreferens"] == answers["beslutsreferens"]
            ]
            refusal = None
            if self._fail_submissions > 0:
                self._fail_submissions -= 1
                refusal = REJECTION
            elif any(r["individkod"] != answers["individkod"] for r in earlier):
                refusal = CODE_CHANGED
            if refusal is not None:
                self._counts["rejected"] += 1
                session.done.remove("granska")
                return False, refusal
            self._counts["submissions"] += 1
            receipt = f"IVO-{self.today().year}-{len(self._reports) + 1:06d}"
            report = dict(summary_values(answers, self.administrations))
            report.update(kvittens=receipt, kommun=self.municipality, anvandare=session.user or "",
                          mottagen=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
            self._reports.append(report)
            session.answers, session.done = {}, []
            return True, receipt

    # -- sessions -----------------------------------------------------------------------------

    def today(self) -> date:
        return self._today or date.today()

    def _ivo_control(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        try:
            command: Any = json.loads(request_body(environ))
            if not isinstance(command, dict) or set(command) - _IVO_CONTROLS:
                raise ValueError(f"expected an object with {', '.join(sorted(_IVO_CONTROLS))}")
            for key in ("fail_submissions", "expire_sessions_after"):
                count = command.get(key)
                if count is not None and (
                    isinstance(count, bool) or not isinstance(count, int) or count < 0
                ):
                    raise ValueError(f"{key} must be a whole number >= 0")
            if command.get("fail_submissions") is not None:
                self.fail_next_submissions(command["fail_submissions"])
            if command.get("expire_sessions_after"):
                self.expire_sessions(after_requests=command["expire_sessions_after"])
            if command.get("expire_sessions") is True:
                self.expire_sessions()
        except ValueError as exc:
            return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        return json_answer(start_response, HTTPStatus.OK, self.stats())


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.ivo_double",
        "Run the IVO e-service double (reports of decisions not executed) until SIGTERM.",
    )
    parser.add_argument("--user", default="robot", help="the login name (default: robot)")
    parser.add_argument("--password", default="fiktivt-lösen-1", help="the login password")
    parser.add_argument("--municipality", default="Exempelstad kommun")
    parser.add_argument("--administration", action="append", default=None,
                        help="an administration the account reports for (repeatable)")  # fmt: skip
    parser.add_argument("--session-seconds", type=float, default=900.0,
                        help="how long a session lives after login")  # fmt: skip
    parser.add_argument("--fail-submissions", type=int, default=0,
                        help="refuse the next N sends with a validation message")  # fmt: skip
    parser.add_argument("--down", action="store_true", help="start in mode down")
    args = parser.parse_args(argv)
    double = IvoDouble(
        args.host, args.port, user=args.user, password=args.password,
        municipality=args.municipality,
        administrations=tuple(args.administration or ADMINISTRATIONS),
        session_seconds=args.session_seconds,
    )  # fmt: skip
    double.fail_next_submissions(args.fail_submissions)
    if args.down:
        double.set_mode("down")
    return run_until_signalled(double)


if __name__ == "__main__":
    raise SystemExit(main())
