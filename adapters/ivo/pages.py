"""Reading IVO's e-service pages with lxml.html: forms to fill, messages, receipts, the list.

The robot reads pages the way an officer does: a form's fields by name, a drop-down option by
its visible text, the validation messages in the page's error summary, the receipt number on
the receipt page, and the received reports as a table found by its column headings. Any page
that does not look like what the robot expects is :class:`PageChanged`, which the adapter
turns into a permanent error: retrying will not help until someone looks at the robot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree, html

_DIGIT_RUN = re.compile(r"\d{6,}")


class PageChanged(Exception):
    """The page is not what the robot knows how to read; the text says what is missing."""


class FormMismatch(Exception):
    """The form does not offer a choice the report needs; the text names the field."""


@dataclass(frozen=True)
class FilledForm:
    action: str
    data: dict[str, str]
    step: str


def parse(page: bytes) -> html.HtmlElement:
    try:
        return html.document_fromstring(page)
    except etree.ParserError as exc:  # an empty answer: "Document is empty"
        raise PageChanged(f"the e-service answered no page ({exc})") from None


def title(doc: html.HtmlElement) -> str:
    heading = doc.find(".//h1")
    return " ".join((heading.text_content() if heading is not None else "").split())


def messages(doc: html.HtmlElement) -> list[str]:
    """The page's validation messages (its error summary), digit runs blanked."""
    found = doc.xpath('//*[contains(concat(" ", @class, " "), " error-summary ")]//li')
    return [_DIGIT_RUN.sub("…", " ".join(li.text_content().split())) for li in found]


def receipt(doc: html.HtmlElement) -> str | None:
    """The receipt number, if this is the receipt page."""
    found = doc.get_element_by_id("kvittensnummer", None)
    return None if found is None else " ".join(found.text_content().split()) or None


def shown_value(doc: html.HtmlElement, heading: str) -> str | None:
    """A value the page shows in a table row headed ``heading`` (e.g. the account's Kommun)."""
    for row in doc.iter("tr"):
        th, td = row.find("th"), row.find("td")
        if th is not None and td is not None and th.text_content().strip() == heading:
            return " ".join(td.text_content().split())
    return None


def fill(
    doc: html.HtmlElement, values: Mapping[str, str], choices: Mapping[str, str]
) -> FilledForm:
    """Fill the page's step form: every field it shows that the report has an answer for.

    ``values`` go into text fields, dates, text areas, radio buttons (by value) and check boxes
    (``on`` checks it); ``choices`` pick a drop-down option by its visible text. Hidden fields
    (the CSRF token) are sent as the page gave them."""
    forms = [f for f in doc.forms if (f.get("id") or "").startswith("step-")]
    if not forms:
        raise PageChanged(f"no report form on the page {title(doc)!r}")
    form = forms[0]
    for element in form.inputs:
        name = element.get("name")
        if name is None or (isinstance(element, html.InputElement) and element.type == "hidden"):
            continue
        _fill_one(form, name, values, choices)
    data = {name: value for name, value in form.form_values()}
    return FilledForm(action=form.get("action") or "", data=data, step=form.get("id", "")[5:])


def _fill_one(
    form: html.FormElement, name: str, values: Mapping[str, str], choices: Mapping[str, str]
) -> None:
    field = form.inputs[name]
    if isinstance(field, html.SelectElement):
        wanted = choices.get(name)
        if wanted is None:
            return
        options = {" ".join(o.text_content().split()): o.get("value") for o in field.iter("option")}
        if wanted not in options:
            raise FormMismatch(f"IVO's form offers no choice {wanted!r} for field {name!r}")
        field.value = options[wanted]
        return
    value = values.get(name)
    if value is None:
        return
    if isinstance(field, html.RadioGroup):
        if value not in field.value_options:
            raise FormMismatch(f"IVO's form offers no choice {value!r} for field {name!r}")
        field.value = value
    elif isinstance(field, html.InputElement) and field.type == "checkbox":
        field.checked = value == "on"
    else:
        field.value = value


def received_receipts(doc: html.HtmlElement, reference: str) -> list[str]:
    """The receipt numbers of the listed reports whose own reference is ``reference``."""
    table = doc.get_element_by_id("inskickade", None)
    if table is None:
        raise PageChanged("the list of received reports has no table 'inskickade'")
    headings = [" ".join(th.text_content().split()) for th in table.iter("th")]
    try:
        receipt_at, reference_at = headings.index("Kvittensnummer"), headings.index("Er referens")
    except ValueError:
        raise PageChanged("the list of received reports lacks its columns") from None
    found = []
    for row in table.iterfind("tbody/tr"):
        cells = [" ".join(td.text_content().split()) for td in row.iterfind("td")]
        if len(cells) > max(receipt_at, reference_at) and cells[reference_at] == reference:
            found.append(cells[receipt_at])
    return found
