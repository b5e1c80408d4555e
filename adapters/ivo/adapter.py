"""The IVO robot: individual reports entered into IVO's e-service as an officer would.

System: IVO's e-service for reporting decisions not executed within three months (ivo.se). It
has no API, only a logged-in multi-step web form (choose the administration; report and
individual details; decision details; review; send) whose fields appear depending on earlier
answers; the local double is ``adapters.doubles.ivo_double``.

Protocol: HTTP/1.1 (httpx), HTML forms read and filled with lxml.html (``adapters.ivo.pages``),
the answers mapped from the ``ivo.individual_report`` document by ``adapters.ivo.mapping``.
One delivery: log in, look for the report in the list of received reports, walk the steps
(each page's CSRF token and the session cookie carried along; each step filled with the fields
it shows), send, read the receipt number, which is the ``Receipt.reference``. Each delivery has
its own cookie jar over one shared connection pool, so concurrent deliveries never share a
session (the form's unfinished report lives in the session). Redirects within the e-service
are followed; proxy settings from the environment are ignored.

Authentication: ``username`` and the password from the environment variable named by
``password_env`` (never in the routing file, never in ``repr``, errors or logs). The real
e-service logs in with BankID or SITHS; the double with a password form.

Retry and idempotency (exactly once): the robot writes the report's ``ReportReference`` (one
per decision, quarter and kind) in the form's "Er referens", which IVO shows back in the list of
received reports. Before entering anything it searches that list for the reference and, if the
report is there, answers its receipt as a duplicate instead of reporting again: a crash between
send and record, or the same report sent again in a new message, never makes a second report.
A session that expires midway is logged in again and the report restarted, once. The
e-service down (no answer, 5xx, a maintenance page) is transient; connect errors are retried
inside the call (``retries``), nothing else. A form answering with validation messages is
permanent (dead), with IVO's messages as the detail an officer reads; so are a refused login, a
report with missing fields or with something like an identity number in it, a choice IVO's form
does not offer, and a page the robot cannot read.

Data categories: pseudonym (IVO's code of the person, never the identity number), case,
decisions, health; held only for the length of the call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx
from lxml import html

from adapters import StrictOptions
from adapters.http_errors import HTTPX_TRANSIENT_ERRORS, TRANSIENT_STATUSES
from adapters.ivo import pages
from adapters.ivo.mapping import FormAnswers, form_answers
from adapters.transience import Transience, in_call_retrying
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError

TRANSIENCE = Transience(
    statuses=TRANSIENT_STATUSES,
    errors=HTTPX_TRANSIENT_ERRORS,
    # Only what surely never reached the e-service is repeated inside the call.
    retry_in_call=lambda error: isinstance(error, httpx.ConnectError | httpx.ConnectTimeout),
)
MAX_PAGES = 10  # the form's four steps and the receipt take 5; more is a site that has changed


class SessionExpired(Exception):
    """The e-service sent the robot back to its login page."""


class IvoAdapter:
    """Options: ``url`` (the e-service's base address, required), ``username`` (required),
    ``password_env`` (required: the environment variable holding the password), ``timeout``
    (s, 10), ``retries`` (connect errors retried inside the call, 1)."""

    kind = "ivo"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        allowed = ("url", "username", "password_env", "timeout", "retries")
        opts = StrictOptions(self.kind, name, options, allowed)
        url = opts.required("url", str).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise opts.fail("url", "must be an absolute http:// or https:// URL")
        username = opts.required("username", str)
        password_env = opts.required("password_env", str)
        password = os.environ.get(password_env)
        if not password:
            raise opts.fail("password_env", f"names the environment variable {password_env!r}, "
                            "which is not set")  # fmt: skip
        timeout, retries = opts.seconds("timeout", 10.0), opts.retries("retries", 1)
        self.name, self.url, self.timeout, self.retries = name, url, timeout, retries
        self._username, self._password = username, password
        self._transport: httpx.HTTPTransport | None = None

    def __repr__(self) -> str:
        return f"IvoAdapter(name={self.name!r}, url={self.url!r}, username={self._username!r})"

    def open(self) -> None:
        if self._transport is None:
            self._transport = httpx.HTTPTransport()

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        transport = self._transport
        if transport is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        answers = form_answers(delivery.document)
        with httpx.Client(
            base_url=self.url,
            transport=_Kept(transport),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=True,
            trust_env=False,
        ) as web:
            robot = _Robot(self.name, web, self.retries)
            try:
                return robot.report(answers, self._username, self._password)
            except RuntimeError as exc:  # httpx: the pool was closed by close() meanwhile
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during delivery", reason="adapter_closed"
                ) from exc


class _Kept(httpx.BaseTransport):
    """The adapter's shared pool as one delivery's transport: closing the delivery's client
    leaves the pool open for the others (``IvoAdapter.close`` closes it)."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)

    def close(self) -> None:
        pass


class _Robot:
    """One delivery's walk through the e-service, on its own client (cookie jar)."""

    def __init__(self, destination: str, web: httpx.Client, retries: int) -> None:
        self._destination, self._web = destination, web
        self._retrying = in_call_retrying(TRANSIENCE, retries)

    def report(self, answers: FormAnswers, username: str, password: str) -> Receipt:
        details = {"ivo_reference": answers.reference}
        for attempt in (1, 2):
            try:
                self._log_in(username, password)
                existing = self._received(answers.reference)
                if existing:
                    return Receipt(reference=existing[0], duplicate=True, details=details)
                return Receipt(reference=self._walk(answers), details=details)
            except SessionExpired:
                if attempt == 2:
                    raise TransientDeliveryError(
                        f"{self._destination}: IVO's session expired twice during one report",
                        reason="ivo_session_expired",
                    ) from None
            except (pages.PageChanged, pages.FormMismatch) as exc:
                raise PermanentDeliveryError(
                    f"{self._destination}: {exc}", reason="ivo_form_changed"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _log_in(self, username: str, password: str) -> None:
        page = self._page(self._web.get, "/login", expect_login=True)
        form = next((f for f in page.forms if f.get("id") == "login"), None)
        if form is None:
            raise pages.PageChanged("the login page has no login form")
        data = {name: value for name, value in form.form_values()}
        data.update(anvandare=username, losenord=password)
        after = self._page(self._web.post, form.get("action") or "/login", data=data,
                           expect_login=True)  # fmt: skip
        said = pages.messages(after)
        if said:
            raise PermanentDeliveryError(
                f"{self._destination}: IVO refused the robot's login: {'; '.join(said)}",
                reason="ivo_login_refused",
            )
        if any(f.get("id") == "login" for f in after.forms):
            raise SessionExpired  # logged in, and the new session was gone at once

    def _received(self, reference: str) -> list[str]:
        page = self._page(self._web.get, "/rapporter", params={"referens": reference})
        return pages.received_receipts(page, reference)

    def _walk(self, answers: FormAnswers) -> str:
        page = self._page(self._web.get, "/rapport/ny")
        shown = pages.shown_value(page, "Kommun")
        if shown is not None and shown != answers.municipality:
            raise PermanentDeliveryError(
                f"{self._destination}: the report is for {answers.municipality!r}, but IVO's "
                f"account reports for {shown!r}",
                reason="ivo_wrong_municipality",
            )
        for _ in range(MAX_PAGES):
            number = pages.receipt(page)
            if number is not None:
                return number
            filled = pages.fill(page, answers.values, answers.choices)
            page = self._page(self._web.post, filled.action, data=filled.data)
            said = pages.messages(page)
            if said:
                raise PermanentDeliveryError(
                    f"{self._destination}: IVO refused the report at step "
                    f"'{pages.title(page)}': {' '.join(said)}",
                    reason="ivo_validation",
                    step=filled.step,
                )
        raise pages.PageChanged(f"the form did not end in a receipt within {MAX_PAGES} pages")

    def _page(
        self,
        send: Callable[..., httpx.Response],
        path: str,
        *,
        expect_login: bool = False,
        **kwargs: object,
    ) -> html.HtmlElement:
        """One exchange: its page, or the hub error its failure means."""
        try:
            response = self._retrying(send, path, **kwargs)
        except TRANSIENCE.errors as exc:
            raise TransientDeliveryError(
                f"{self._destination}: no answer from IVO's e-service ({type(exc).__name__})",
                error=type(exc).__name__,
            ) from exc
        except httpx.HTTPError as exc:
            raise PermanentDeliveryError(
                f"{self._destination}: request failed ({type(exc).__name__})",
                error=type(exc).__name__,
            ) from exc
        status = response.status_code
        if status >= 400:
            detail = f"{self._destination}: HTTP {status} {response.reason_phrase}".rstrip()
            if TRANSIENCE.is_transient_status(status):
                raise TransientDeliveryError(detail, status=status)
            said = pages.messages(pages.parse(response.content)) if response.content else []
            raise PermanentDeliveryError(detail + ("; " + " ".join(said) if said else ""),
                                         status=status)  # fmt: skip
        if response.url.path == "/login" and not expect_login:
            raise SessionExpired
        return pages.parse(response.content)
