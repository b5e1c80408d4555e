"""The IVO robot against the e-service double running as its own process, as in the demo and
in production (another machine's web application): a report and its receipt in IVO's list, a
validation error with IVO's message, a session renewed midway, a redelivery that adds
nothing, and the e-service down."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.ivo.adapter import IvoAdapter
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import double_process, opened
from tests.integration.ivo.conftest import PASSWORD, adapter_for, report_delivery


class RunningIvo:
    """The double's process: the URL the robot is given, and its test controls over HTTP."""

    def __init__(self, url: str, base: str) -> None:
        self.url, self.base = url, base

    def received(self) -> list[dict[str, str]]:
        answer = httpx.get(f"{self.base}/_received", timeout=5)
        answer.raise_for_status()
        return list(answer.json())

    def control(self, path: str, command: dict[str, object]) -> None:
        httpx.post(f"{self.base}{path}", json=command, timeout=5).raise_for_status()

    def stats(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.base}/_stats", timeout=5).json())


@pytest.fixture(scope="module")
def ivo_process() -> Iterator[RunningIvo]:
    with double_process("ivo_double", "/", "--password", PASSWORD) as (url, base):
        yield RunningIvo(url, base)


@pytest.fixture
def service(ivo_process: RunningIvo) -> RunningIvo:
    httpx.post(f"{ivo_process.base}/_reset", timeout=5).raise_for_status()
    return ivo_process


@pytest.fixture
def robot(service: RunningIvo) -> Iterator[IvoAdapter]:
    with opened(adapter_for(service.url)) as adapter:
        yield adapter


def test_a_report_gets_a_receipt_that_ivos_list_shows(
    service: RunningIvo, robot: IvoAdapter
) -> None:
    delivery = report_delivery()
    receipt = robot.deliver(delivery)
    (listed,) = service.received()
    assert (receipt.reference, receipt.duplicate) == (listed["kvittens"], False)
    assert listed["er_referens"] == f"OH-{delivery.delivery_id}"
    assert listed["anvandare"] == "robot"
    # The HTML list an officer reads shows it too, found by the reference.
    with httpx.Client(base_url=service.base, follow_redirects=True) as browser:
        login = browser.get("/login")
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        browser.post("/login", data={"csrf_token": token, "anvandare": "robot",
                                     "losenord": PASSWORD})  # fmt: skip
        page = browser.get("/rapporter", params={"referens": listed["er_referens"]})
    assert listed["kvittens"] in page.text


def test_a_redelivery_adds_nothing(service: RunningIvo, robot: IvoAdapter) -> None:
    delivery = report_delivery()
    first = robot.deliver(delivery)
    again = robot.deliver(report_delivery(delivery.delivery_id, attempt=2))
    assert (again.reference, again.duplicate) == (first.reference, True)
    assert len(service.received()) == 1
    assert service.stats()["submissions"] == 1


def test_a_validation_error_is_permanent_with_ivos_message(
    service: RunningIvo, robot: IvoAdapter
) -> None:
    service.control("/_ivo", {"fail_submissions": 1})
    delivery = report_delivery()
    with pytest.raises(PermanentDeliveryError) as caught:
        robot.deliver(delivery)
    assert caught.value.reason == "ivo_validation"
    assert (
        "uppgifterna om beslutet stämmer inte med IVO:s tidigare rapporter" in caught.value.detail
    )
    assert service.received() == []
    # Once an officer has looked at it, a replay goes through.
    assert robot.deliver(report_delivery(delivery.delivery_id, attempt=2)).duplicate is False


def test_a_session_that_expires_midway_is_renewed(service: RunningIvo, robot: IvoAdapter) -> None:
    service.control("/_ivo", {"expire_sessions_after": 8})  # in the form's steps
    receipt = robot.deliver(report_delivery())
    assert receipt.duplicate is False
    assert len(service.received()) == 1
    assert service.stats()["logins"] == 2


def test_the_service_down_is_transient_and_then_delivered(
    service: RunningIvo, robot: IvoAdapter
) -> None:
    service.control("/_control", {"mode": "down"})
    delivery = report_delivery()
    with pytest.raises(TransientDeliveryError):
        robot.deliver(delivery)
    service.control("/_control", {"mode": "up"})
    assert robot.deliver(report_delivery(delivery.delivery_id, attempt=2)).duplicate is False
    assert len(service.received()) == 1


@pytest.mark.parametrize(
    ("flags", "error"),
    [(("--down",), TransientDeliveryError), (("--fail-submissions", "1"), PermanentDeliveryError)],
)
def test_the_double_started_down_or_failing_by_its_flags(
    flags: tuple[str, ...], error: type[Exception]
) -> None:
    with (
        double_process("ivo_double", "/", "--password", PASSWORD, *flags) as (url, _),
        opened(adapter_for(url)) as adapter,
        pytest.raises(error),
    ):
        adapter.deliver(report_delivery())
