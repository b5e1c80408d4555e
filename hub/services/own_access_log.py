"""A person's own access log (GDPR art. 15) for the municipality's e-services.

A registered system with the role ``access_log`` (``systems add --role access_log``) holds
this one grant and nothing else: it cannot send messages, ask lookups or manage agreements
(``Authenticator`` refuses its token there), and every other token gets 404 here. It asks for
the extract of exactly one person: the identity number its own e-identification proved (BankID
on its side; the hub cannot check that proof and trusts the registered e-service for it, which
is why the grant is dedicated and the call names the identification it rests on). One call,
one person: the request has one identity number field and nothing that could name a second.

The extract covers every district (the person asks the municipality, not one committee) and is
the one a data-protection officer makes (``audit.report``), as JSON or PDF. Each read is
audited as ``exported`` with the e-service as actor, the person's keyed reference and the
identification reference, in the same transaction as the read, so the person sees the read
in the next extract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from audit.report import SubjectReport, subject_report, to_json, to_pdf
from hub.errors import InputError, NotFound
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = ["OwnAccessLog", "own_access_log"]

ExtractFormat = Literal["json", "pdf"]
# An identification transaction's reference as the e-service knows it, e.g. ``bankid:<orderRef>``.
_IDENTIFICATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,99}")


@dataclass(frozen=True)
class OwnAccessLog:
    extract: SubjectReport
    fmt: ExtractFormat

    def as_json(self) -> dict[str, object]:
        return to_json(self.extract)

    def as_pdf(self) -> bytes:
        return to_pdf(self.extract)


def own_access_log(
    hub: Hub,
    principal: Principal,
    *,
    identity_number: str,
    scheme: str,
    identification: str,
    fmt: ExtractFormat,
) -> OwnAccessLog:
    """The extract of the one person ``identity_number`` names, read and audited at once."""
    if principal.kind is not Kind.ACCESS_LOG:
        raise NotFound("not found", reason="not_found")  # the grant is not advertised
    if fmt not in ("json", "pdf"):
        raise InputError(f"format is json or pdf, not {fmt!r}")
    if not _IDENTIFICATION.fullmatch(identification):
        raise InputError(
            "identification names the e-identification the request rests on "
            "(1-100 of A-Z a-z 0-9 : . _ -, e.g. bankid:<order reference>)"
        )
    identity = parse_identity(identity_number, scheme)
    ref = str(hub.guards.hmacs.subject_ref(identity.canonical))
    with hub.engine.begin() as conn:
        extract = subject_report(conn, ref, now=hub.clock())
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.EXPORTED,
                    subject_ref=ref,
                    reason=(
                        f"own access log ({fmt}, {len(extract.accesses)} accesses) "
                        f"after {identification}"
                    )[:200],
                )
            ],
        )
    return OwnAccessLog(extract, fmt)
