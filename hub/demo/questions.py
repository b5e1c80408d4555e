"""The demo's lookups: the contact centre asks a district's case and finance systems.

A client summary and an invoice's status with recorded consent, answered; the same invoice
question without consent, refused (403 ``consent_missing``). Answers are shown as one line of
names and states, never an identity number.
"""

from __future__ import annotations

from typing import Any

import click
import httpx

from hub.demo.report import short
from hub.demo.scenario import CONSENT, DISTRICTS
from hub.demo.stream import DemoStream
from hub.ingest.identity import parse_identity


def ask_lookups(client: httpx.Client, token: str, stream: DemoStream) -> bool:
    """The contact centre answers callers: a client summary, an invoice's status, and one
    question the hub refuses because no consent was recorded."""
    click.echo("\nThe contact centre looks up (POST /api/v1/lookups):")
    seeded, _ = stream.looked_up()
    unpaid = stream.open_invoices[-1]
    tolvan = {"id": parse_identity(unpaid.payer).formatted(), "scheme": "se"}
    questions: list[tuple[str, dict[str, object], tuple[int, str | None]]] = [
        (
            f"client summary in {seeded.district} (consent recorded)",
            {
                "lookup": "client_summary",
                "district": seeded.district,
                "purpose": "client_question",
                "subject": {"id": seeded.identity.formatted(), "scheme": "se"},
                "consent": CONSENT,
            },
            (200, None),
        ),
        (
            "invoice status by OCR reference (consent recorded)",
            {
                "lookup": "invoice_status",
                "district": DISTRICTS[0],
                "purpose": "invoice_question",
                "subject": tolvan,
                "params": {"ocr": unpaid.ocr},
                "consent": CONSENT,
            },
            (200, None),
        ),
        (
            "invoice status without recorded consent",
            {
                "lookup": "invoice_status",
                "district": DISTRICTS[0],
                "purpose": "invoice_question",
                "subject": tolvan,
                "params": {"invoice_number": unpaid.invoice_number},
            },
            (403, "consent_missing"),
        ),
    ]
    ok = True
    for label, question, expected in questions:
        r = client.post(
            "/api/v1/lookups", json=question, headers={"Authorization": f"Bearer {token}"}
        )
        answer = r.json()
        if r.status_code == 200:
            click.echo(f"  {label}: 200 — {_describe(answer['data'])}")
        else:
            click.echo(f"  {label}: {r.status_code} {answer.get('reason')} — {short(answer)}")
        ok = ok and (r.status_code, answer.get("reason")) == expected
    return ok


def _describe(data: dict[str, Any]) -> str:
    """One line of a lookup's answer: names and states, no identity numbers."""
    if not data.get("found"):
        return "nothing found"
    if "decisions" in data:
        decisions = "; ".join(
            f"{d['law']} {(d.get('service') or {}).get('display_name')} ({d['execution_state']})"
            for d in data["decisions"]
        )
        provider = (data.get("provider") or {}).get("name")
        officer = (data.get("case_officer") or {}).get("name")
        return f"{data['name']}: {decisions}; provider {provider}; case officer {officer}"
    return (
        f"invoice {data['invoice_number']} {data['status']}, {data['balance']} of "
        f"{data['amount']} {data['currency']} left, due {data['due_date']}"
    )
