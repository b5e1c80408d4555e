"""RFC 3161 time-stamping of signed heads: a third party's signature that a head existed then.

A time-stamping authority (TSA) signs the SHA-256 of the head's signed message together with
its own clock. Its token proves, with the TSA's certificate alone, that the hub had written
the trail up to that seq by that time; a rollback to an earlier head, or a head back-dated
afterwards, contradicts a token. This is the anchor of X-Road's message log, and as there, the
witness is *required*: when time-stamping keeps failing longer than the configured limit, the
trail refuses appends (``trail.AuditTrail``), so no personal data is processed unanchored.

The protocol is spoken with ``rfc3161-client`` (request building, response parsing and
verification against a root certificate); HTTP is ``urllib`` (one POST of
``application/timestamp-query`` every few seconds at most). Tokens are appended to a JSON-lines
file (the head's checkpoint fields plus ``tst``, the base64 DER response), which
``witness.read_witness`` reads like any other witness record.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from audit.checkpoint import Checkpoint
from audit.witness import append_line

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
_MAX_REPLY = 256 * 1024


class TimestampError(ValueError):
    """The TSA did not grant a usable time-stamp (down, refused, or a reply that fails)."""


@dataclass(frozen=True)
class Stamp:
    head: Checkpoint
    reply: bytes  # the DER TimeStampResp
    gen_time: datetime


def request_stamp(url: str, head: Checkpoint, *, timeout: float = 10.0) -> Stamp:
    """Ask the TSA at ``url`` to time-stamp ``head``; check the reply answers *this* request
    (status granted, same message imprint, same nonce). Raises ``TimestampError``."""
    request = TimestampRequestBuilder(
        data=head.message(), hash_algorithm=HashAlgorithm.SHA256, nonce=True, cert_req=True
    ).build()
    if not url.startswith(("http://", "https://")):
        raise TimestampError(f"the time-stamping URL must be http(s): {url!r}")
    http = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=request.as_bytes(),
        headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as reply:  # noqa: S310 - configured URL
            body = reply.read(_MAX_REPLY + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"the time-stamping authority {url} cannot be reached: {exc}") from exc
    if len(body) > _MAX_REPLY:
        raise TimestampError(f"the time-stamping authority {url} sent an oversized reply")
    try:
        response = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampError(f"not a time-stamp reply from {url}: {exc}") from exc
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"{url} refused the time-stamp (status {response.status})")
    info = response.tst_info
    if info.message_imprint.message != request.message_imprint.message:
        raise TimestampError(f"{url} stamped another message than the one asked for")
    if request.nonce is not None and info.nonce != request.nonce:
        raise TimestampError(f"{url} answered with another request's nonce")
    return Stamp(head=head, reply=body, gen_time=info.gen_time)


def verify_stamp(stamp: Stamp, roots: Sequence[x509.Certificate]) -> TimeStampResponse:
    """Check the token's signature chains to ``roots`` and covers the head's signed message.
    Raises ``TimestampError`` naming the head's seq."""
    try:
        response = decode_timestamp_response(stamp.reply)
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        builder.build().verify_message(response, stamp.head.message())
    except (ValueError, VerificationError) as exc:
        raise TimestampError(
            f"the time-stamp of head {stamp.head.seq} does not verify: {exc}"
        ) from exc
    return response


def stamp_line(stamp: Stamp) -> str:
    data = json.loads(stamp.head.to_json_line())
    data["tst"] = base64.b64encode(stamp.reply).decode("ascii")
    data["gen_time"] = stamp.gen_time.isoformat()
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def read_stamps(path: Path) -> Iterator[Stamp]:
    """The stamps of a token file, in file order. Raises ``ValueError`` naming a bad line."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                head = Checkpoint.from_json_line(
                    json.dumps({k: data[k] for k in ("seq", "hash", "at", "key_id", "signature")})
                )
                reply = base64.b64decode(data["tst"], validate=True)
                yield Stamp(head, reply, datetime.fromisoformat(data["gen_time"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a time-stamp record: {exc}") from exc


class TimestampWitness:
    """Time-stamps each published head at a TSA and keeps the token in ``tokens_file``."""

    required = True

    def __init__(self, url: str, tokens_file: Path, *, timeout: float = 10.0) -> None:
        self._url = url
        self._tokens = tokens_file
        self._timeout = timeout
        self.name = f"tsa:{url}"

    def publish(self, head: Checkpoint) -> None:
        stamp = request_stamp(self._url, head, timeout=self._timeout)
        self._tokens.parent.mkdir(parents=True, exist_ok=True)
        append_line(self._tokens, stamp_line(stamp))
