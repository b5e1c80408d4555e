"""The IVO e-service double's HTML pages: login, the form's steps, review, receipt, the list.

Plain server-rendered HTML5, every value escaped, every form with its CSRF token in a hidden
``csrf_token`` field, validation messages in a ``div.error-summary`` (``role="alert"``) at the
top of the form as on a public e-service. The robot reads these pages with lxml.html as it
would read ivo.se's, so the markup is ordinary: labels, inputs, selects, radios, a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from http import HTTPStatus
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles.ivo_form import STEP_TITLES, STEPS, Field
from adapters.doubles.ivo_sessions import COOKIE
from adapters.doubles.wsgi_server import answer, request_body

_STYLE = (
    "body{font-family:sans-serif;max-width:52rem;margin:2rem auto}"
    ".error-summary{border:3px solid #b00;padding:.5rem 1rem}"
    "label{display:block;margin-top:.8rem;font-weight:bold}"
    "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem}"
)

# What the list shows of each report, in order: (key of the stored report, column heading).
LIST_COLUMNS = (
    ("kvittens", "Kvittensnummer"),
    ("er_referens", "Er referens"),
    ("period", "Period"),
    ("rapporttyp", "Rapporttyp"),
    ("individkod", "Individkod"),
    ("beslutsreferens", "Beslutsreferens"),
    ("mottagen", "Mottagen"),
)


def page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8">'
        f"<title>{escape(title)} – IVO e-tjänst (testdubblett)</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<header><p>Inspektionen för vård och omsorg – Rapportera ej verkställda beslut "
        "(lokal testdubblett)</p></header>"
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    ).encode()


def errors_block(messages: Sequence[str]) -> str:
    if not messages:
        return ""
    items = "".join(f"<li>{escape(m)}</li>" for m in messages)
    return (
        '<div class="error-summary" role="alert"><h2>Det finns fel i formuläret</h2>'
        f"<ul>{items}</ul></div>"
    )


def login_page(csrf: str, messages: Sequence[str] = ()) -> bytes:
    body = (
        f"{errors_block(messages)}"
        '<form id="login" method="post" action="/login">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        '<label for="anvandare">Användarnamn</label>'
        '<input id="anvandare" name="anvandare" type="text">'
        '<label for="losenord">Lösenord</label>'
        '<input id="losenord" name="losenord" type="password">'
        '<p><button type="submit">Logga in</button></p></form>'
        "<p>På ivo.se loggar man in med BankID eller SITHS-kort; här med lösenord.</p>"
    )
    return page("Logga in", body)


def step_page(
    step: str,
    fields: Sequence[Field],
    values: Mapping[str, str],
    csrf: str,
    messages: Sequence[str] = (),
    summary: Sequence[tuple[str, str]] = (),
) -> bytes:
    """One step of the report form, filled with ``values``, with ``messages`` on top."""
    number = STEPS.index(step) + 1
    review = ""
    if summary:
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in summary)
        review = f'<table id="review">{rows}</table>'
    inputs = "".join(_field_html(f, values.get(f.name, "")) for f in fields)
    button = "Skicka rapporten" if step == "granska" else "Nästa"
    body = (
        f"<p>Steg {number} av {len(STEPS)}</p>{errors_block(messages)}{review}"
        f'<form id="step-{step}" method="post" action="/rapport/{step}">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">{inputs}'
        f'<p><button type="submit">{button}</button></p></form>'
    )
    return page(STEP_TITLES[step], body)


def _field_html(field: Field, value: str) -> str:
    name, label = escape(field.name), escape(field.label)
    if field.kind == "radio":
        options = "".join(
            f'<label><input type="radio" name="{name}" value="{escape(choice)}"'
            f"{' checked' if choice == value else ''}> {escape(text)}</label>"
            for choice, text in field.choices
        )
        return f"<fieldset><legend>{label}</legend>{options}</fieldset>"
    if field.kind == "select":
        options = '<option value="">– Välj –</option>' + "".join(
            f'<option value="{escape(choice)}"{" selected" if choice == value else ""}>'
            f"{escape(text)}</option>"
            for choice, text in field.choices
        )
        control = f'<select id="{name}" name="{name}">{options}</select>'
    elif field.kind == "textarea":
        control = f'<textarea id="{name}" name="{name}">{escape(value)}</textarea>'
    elif field.kind == "checkbox":
        control = f'<input id="{name}" name="{name}" type="checkbox">'
    else:
        kind = "date" if field.kind == "date" else "text"
        control = f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}">'
    return f'<label for="{name}">{label}</label>{control}'


def receipt_page(receipt: str) -> bytes:
    body = (
        "<p>Rapporten är mottagen av IVO.</p>"
        f'<dl><dt>Kvittensnummer</dt><dd id="kvittensnummer">{escape(receipt)}</dd></dl>'
        '<p><a href="/rapport/ny">Rapportera ett till beslut</a> · '
        '<a href="/rapporter">Inskickade rapporter</a></p>'
    )
    return page("Kvittens", body)


def list_page(reports: Sequence[Mapping[str, str]], reference: str) -> bytes:
    """The reports received from this account, optionally only those with ``reference``."""
    head = "".join(f"<th>{escape(title)}</th>" for _, title in LIST_COLUMNS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(r.get(key, ''))}</td>" for key, _ in LIST_COLUMNS) + "</tr>"
        for r in reports
    )
    body = (
        '<form id="search" method="get" action="/rapporter">'
        '<label for="referens">Sök på er referens</label>'
        f'<input id="referens" name="referens" type="text" value="{escape(reference)}">'
        '<button type="submit">Sök</button></form>'
        f'<table id="inskickade"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )
    return page("Inskickade rapporter", body)


def message_page(title: str, text: str) -> bytes:
    return page(title, f'<p class="message">{escape(text)}</p>')


# -- reading a request, answering with a page ----------------------------------------------


def session_cookie(token: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax")


def html_answer(
    start_response: StartResponse,
    status: HTTPStatus,
    data: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    return answer(start_response, status, "text/html; charset=utf-8", data, headers or [])


def redirect(
    start_response: StartResponse, location: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    return answer(start_response, HTTPStatus.SEE_OTHER, "text/plain", b"",
                  [("Location", location), *(headers or [])])  # fmt: skip


def forbidden(start_response: StartResponse) -> list[bytes]:
    text = "Formuläret saknar en giltig säkerhetstoken (CSRF). Ladda om sidan och försök igen."
    return html_answer(start_response, HTTPStatus.FORBIDDEN, message_page("Åtkomst nekad", text))


def posted_form(environ: WSGIEnvironment) -> dict[str, str]:
    body = request_body(environ).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def query_of(environ: WSGIEnvironment) -> dict[str, str]:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return {key: values[0] for key, values in query.items()}
