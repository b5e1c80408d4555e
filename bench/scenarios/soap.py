"""``soap``: the case-management adapter's ReferCase against a bare zeep loop (issue #4).

Both talk to one case-management double in a process of its own (``python -m
adapters.doubles.case_management_double``) with the same zeep settings (strict, no DTD, no
entities, no external references, ``operation_timeout``) and a keep-alive ``requests`` session.
Measured in interleaved blocks of 100 calls so background load hits both alike; the baseline
is the bare zeep client calling ``ReferCase`` with pre-built arguments, so the ratio is what
the adapter adds: reading the hub's document, mapping it, translating errors. Target ≥ 0.8×.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from typing import Any, cast

import requests
import zeep

from adapters.case_management.adapter import BINDING, PACKAGED_WSDL, CaseManagementAdapter
from adapters.case_management.mapping import referral_request
from adapters.soap import hardened_settings
from bench.processes import child, child_env, printed_url
from bench.report import Row
from bench.workload import Options, interleave, scratch_folder
from hub.demo.fictional import FictionalPeople, referral_body
from hub.envelope import OutboundDelivery

TARGET_RATIO = 0.8
BLOCK = 100
DISTRICT = "sdn-sodermalm"


def _deliveries(prefix: str, count: int) -> list[OutboundDelivery]:
    rng = random.Random(7)
    return [
        OutboundDelivery(
            delivery_id=f"{prefix}-{i:07d}",
            message_id=f"m-{prefix}-{i}",
            message_type="case.referral",
            version="1",
            district=DISTRICT,
            purpose="referral",
            sender="aldre-direkt",
            destination="case-sodermalm",
            attempt=1,
            document=referral_body(person, DISTRICT, rng),
            created_at=datetime.now(UTC),
        )
        for i, person in enumerate(FictionalPeople(7).take(count))
    ]


def _bare_zeep(url: str) -> Any:
    settings = hardened_settings()  # the adapter's own settings, so only the adapter differs
    session = requests.Session()
    session.trust_env = False
    transport = cast(Any, zeep).Transport(session=session, timeout=10, operation_timeout=10)
    client = cast(Any, zeep).Client(str(PACKAGED_WSDL), transport=transport, settings=settings)
    return client.create_service(BINDING, url)


def run(options: Options) -> list[Row]:
    blocks = max(2, min(options.messages, 3000) // BLOCK)
    count = (blocks + 1) * BLOCK
    args = [sys.executable, "-m", "adapters.doubles.case_management_double", "--port", "0"]
    with scratch_folder("soap") as folder, child("case-double", args, child_env({}), folder) as c:
        url = printed_url(c, "the case-management double")
        options.progress(f"soap: {blocks} blocks of {BLOCK} ReferCase calls each way")
        adapter = CaseManagementAdapter("case-sodermalm", {"url": url})
        adapter.open()
        try:
            ours = _deliveries("adapter", count)
            service = _bare_zeep(url)
            header = {"LogicalAddress": DISTRICT}
            bare = [referral_request(d) for d in _deliveries("zeep", count)]

            def adapter_call(i: int) -> None:
                adapter.deliver(ours[i])

            def zeep_call(i: int) -> None:
                service.ReferCase(**bare[i], _soapheaders=header)

            runners = {"adapter": adapter_call, "zeep": zeep_call}
            spent = interleave(runners, blocks, BLOCK).wall
        finally:
            adapter.close()
    calls = blocks * BLOCK
    return [
        Row(
            scenario="soap:case-refer",
            count=calls,
            seconds=spent["adapter"],
            baseline_seconds=spent["zeep"],
            unit="call",
            target_ratio=TARGET_RATIO,
            notes=[
                "CaseManagementAdapter.deliver (ReferCase) vs a bare zeep loop with the same "
                "settings, one thread each, interleaved blocks of 100 against one double "
                "process"
            ],
        )
    ]
