"""``sdk``: the SDK adapter's delivery against a bare HTTP client doing the same POSTs (issue 11).

Both talk to one SDK double in a process of its own (``python -m adapters.doubles.sdk_double``),
which checks every request against its JSON Schema and the SDK Meddelande v3 rules. The
baseline is a keep-alive ``httpx.Client`` with a token fetched beforehand, POSTing request
bodies built before the clock starts; the adapter reads the hub's referral, maps it (label,
summary, person as ``referenceId``, base64 file), keeps its token and maps the answer. So the
ratio is what the adapter adds. Interleaved blocks of 100 calls, one thread each, so
background load hits both alike. Target ≥ 0.8×.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx

from adapters.doubles.sdk_double import CLIENT_ID, CLIENT_SECRET
from adapters.doubles.sdk_fixtures import DISTRICT_ORGANISATION, HUB_MAILBOX, HUB_ORGANISATION
from adapters.sdk.adapter import SdkAdapter
from adapters.sdk.client import SCOPES
from adapters.sdk.outbound import Party, message_attributes
from bench.processes import child, child_env, printed_url
from bench.report import Row
from bench.scenarios.soap import DISTRICT, _deliveries
from bench.workload import Options, interleave, scratch_folder

TARGET_RATIO = 0.8
BLOCK = 100
MAILBOX = "sdk:inkorg:0203:2120009991:sodermalm"


def _adapter(api: str, token_url: str) -> SdkAdapter:
    return SdkAdapter(
        "sdk-sodermalm",
        {
            "base_url": api,
            "token_url": token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "sender": HUB_ORGANISATION,
            "sender_functional_address": HUB_MAILBOX,
            "recipients": {
                DISTRICT: {"organization": DISTRICT_ORGANISATION, "functional_address": MAILBOX}
            },
        },
    )


def _bare_client(token_url: str) -> httpx.Client:
    client = httpx.Client(timeout=10, trust_env=False)
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": " ".join(SCOPES),
    }
    token = client.post(token_url, data=form).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def run(options: Options) -> list[Row]:
    blocks = max(2, min(options.messages, 3000) // BLOCK)
    count = (blocks + 1) * BLOCK
    args = [sys.executable, "-m", "adapters.doubles.sdk_double", "--port", "0"]
    with scratch_folder("sdk") as folder, child("sdk-double", args, child_env({}), folder) as c:
        api = printed_url(c, "the SDK double")
        token_url = api.removesuffix("/v1") + "/oauth2/token"
        options.progress(f"sdk: {blocks} blocks of {BLOCK} POST /sdk/messages each way")
        adapter = _adapter(api, token_url)
        adapter.open()
        bare = _bare_client(token_url)
        try:
            ours = _deliveries("sdk-adapter", count)
            sender = Party(HUB_ORGANISATION, HUB_MAILBOX)
            recipient = Party(DISTRICT_ORGANISATION, MAILBOX)
            bodies = [
                {"data": {"type": "messages", "attributes": attributes}}
                for attributes in (
                    message_attributes(d, sender, recipient) for d in _deliveries("sdk-bare", count)
                )
            ]

            def adapter_call(i: int) -> None:
                adapter.deliver(ours[i])

            def bare_call(i: int) -> None:
                bare.post(api + "/sdk/messages", json=bodies[i]).raise_for_status()

            runners: dict[str, Callable[[int], None]] = {
                "adapter": adapter_call,
                "bare": bare_call,
            }
            spent = interleave(runners, blocks, BLOCK).wall
        finally:
            adapter.close()
            bare.close()
    calls = blocks * BLOCK
    return [
        Row(
            scenario="sdk:send-message",
            count=calls,
            seconds=spent["adapter"],
            baseline_seconds=spent["bare"],
            unit="call",
            target_ratio=TARGET_RATIO,
            notes=[
                "SdkAdapter.deliver (referral → POST /sdk/messages, OAuth2 token kept) vs a "
                "bare httpx client POSTing pre-built bodies with a pre-fetched token, one "
                "thread each, interleaved blocks of 100 against one double process"
            ],
        )
    ]
