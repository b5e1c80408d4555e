"""The IVO e-service double as a browser sees it: login and session cookie, CSRF tokens, steps
in order, fields that appear with earlier answers, validation answered with the form again,
and the list of received reports."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import html

from adapters.doubles.ivo_double import IvoDouble
from adapters.ivo import pages
from tests.integration.ivo.conftest import PASSWORD

STEP_1 = {"verksamhet": "1", "period": "2026Q3"}
STEP_2 = {"rapporttyp": "VERKST", "avbrott": "JA", "er_referens": "R-1",
          "individkod": "19380215-T124", "kon": "K", "lagrum": "SOL"}  # fmt: skip
STEP_3 = {"insats": "2", "beslutsreferens": "B-1", "beslutsdatum": "2026-03-10",
          "avbrottsdatum": "2026-04-01", "verkstallt_datum": "2026-08-01"}  # fmt: skip


def form_of(page: httpx.Response) -> html.FormElement:
    (form,) = pages.parse(page.content).forms
    return form


def token(page: httpx.Response) -> str:
    return str(form_of(page).fields["csrf_token"])


def field_names(page: httpx.Response) -> set[str]:
    return set(form_of(page).fields.keys()) - {"csrf_token"}


@pytest.fixture
def browser(double: IvoDouble) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=double.base_url, follow_redirects=True, timeout=5) as client:
        yield client


def log_in(browser: httpx.Client) -> httpx.Response:
    page = browser.get("/login")
    form = {"csrf_token": token(page), "anvandare": "robot", "losenord": PASSWORD}
    return browser.post("/login", data=form)


def post(
    browser: httpx.Client, page: httpx.Response, step: str, data: dict[str, str]
) -> httpx.Response:
    return browser.post(f"/rapport/{step}", data={"csrf_token": token(page), **data})


def test_without_a_session_every_page_leads_to_the_login(browser: httpx.Client) -> None:
    for path in ("/rapport/ny", "/rapport/beslut", "/rapporter"):
        assert browser.get(path).url.path == "/login"


def test_a_wrong_password_answers_the_login_form_with_a_message(browser: httpx.Client) -> None:
    page = browser.get("/login")
    answer = browser.post("/login", data={"csrf_token": token(page), "anvandare": "robot",
                                          "losenord": "fel"})  # fmt: skip
    assert answer.url.path == "/login"
    assert "Fel användarnamn eller lösenord." in answer.text


def test_a_missing_or_foreign_csrf_token_is_forbidden(browser: httpx.Client) -> None:
    page = log_in(browser)
    assert browser.post("/rapport/verksamhet", data=STEP_1).status_code == 403
    other = {**STEP_1, "csrf_token": "not-the-session-s"}
    assert browser.post("/rapport/verksamhet", data=other).status_code == 403
    assert post(browser, page, "verksamhet", STEP_1).url.path == "/rapport/rapport"


def test_steps_go_in_order_and_show_the_fields_earlier_answers_call_for(
    double: IvoDouble, browser: httpx.Client
) -> None:
    page = log_in(browser)
    assert page.url.path == "/rapport/verksamhet"
    assert browser.get("/rapport/beslut").url.path == "/rapport/verksamhet"  # not yet
    page = post(browser, page, "verksamhet", STEP_1)
    page = post(browser, page, "rapport", STEP_2)
    assert page.url.path == "/rapport/beslut"
    names = field_names(page)
    assert {"avbrottsdatum", "verkstallt_datum"} <= names  # interruption, executed
    assert not names & {"orsak", "avslutsdatum", "avslutsorsak"}
    page = post(browser, page, "beslut", STEP_3)
    assert page.url.path == "/rapport/granska"
    assert "Hemtjänst" in page.text  # the review shows choices by their text
    receipt = post(browser, page, "granska", {"intygar": "on"})
    assert receipt.url.path.startswith("/rapport/kvitto/IVO-")
    (report,) = double.received()
    assert (report["insats"], report["avbrottsdatum"]) == ("Hemtjänst", "2026-04-01")
    listed = browser.get("/rapporter", params={"referens": "R-1"})
    assert report["kvittens"] in listed.text
    assert report["kvittens"] not in browser.get("/rapporter", params={"referens": "R-2"}).text


def test_a_validation_error_answers_the_form_again_with_the_values(browser: httpx.Client) -> None:
    page = post(browser, log_in(browser), "verksamhet", STEP_1)
    answer = post(browser, page, "rapport", {**STEP_2, "kon": "M"})
    assert (answer.status_code, answer.url.path) == (200, "/rapport/rapport")
    assert pages.messages(pages.parse(answer.content)) == [
        "Individkod: sista siffran ska vara jämn för kvinnor och udda för män."
    ]
    assert form_of(answer).fields["er_referens"] == "R-1"  # kept for correcting


def test_a_personnummer_is_refused_and_never_shown_back(browser: httpx.Client) -> None:
    page = post(browser, log_in(browser), "verksamhet", STEP_1)
    answer = post(browser, page, "rapport", {**STEP_2, "er_referens": "19121212-1212"})
    assert "ange aldrig personnummer" in answer.text
    assert "19121212-1212" not in answer.text


def test_expired_sessions_lead_to_the_login(double: IvoDouble, browser: httpx.Client) -> None:
    log_in(browser)
    assert browser.get("/rapport/ny").url.path == "/rapport/verksamhet"
    double.expire_sessions()
    assert browser.get("/rapport/ny").url.path == "/login"


def test_the_controls_answer_json(double: IvoDouble, browser: httpx.Client) -> None:
    assert browser.post("/_ivo", json={"fail_submissions": 2}).json()["received"] == 0
    assert browser.post("/_ivo", json={"fail_submissions": -1}).status_code == 400
    assert browser.post("/_ivo", json={"nonsense": 1}).status_code == 400
    assert browser.get("/_received").json() == []
