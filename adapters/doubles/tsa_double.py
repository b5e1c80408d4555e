"""A local RFC 3161 time-stamping authority, for the tests and the demo.

It is a real HTTP server on 127.0.0.1 (``adapters.doubles.wsgi_server``), or its own process
with ``python -m adapters.doubles.tsa_double --port N``. ``POST /tsa`` with an
``application/timestamp-query`` body (a DER ``TimeStampReq``) answers
``application/timestamp-reply``: a ``TimeStampResp`` whose token is CMS ``SignedData`` over a
``TSTInfo`` (the request's message imprint and nonce, a serial number, the double's clock),
signed with RSA/SHA-256 by a TSA certificate that carries the critical ``timeStamping``
extended key usage and chains to the double's own root certificate (``root_certificate``;
``root_pem`` for a file). Keys and certificates are made when the double starts, never stored.

Modes (``set_mode`` or ``POST /_control``): ``up``; ``down`` (drop the connection);
``unavailable`` (503); ``reject`` (a ``TimeStampResp`` with status ``rejection``). Counters:
``requests`` and ``granted``. Built by hand with ``asn1crypto`` and ``cryptography``: no
maintained Python TSA server exists, and a double needs only the granted path.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from wsgiref.types import StartResponse, WSGIEnvironment

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.doubles.wsgi_server import (
    ServedDouble,
    answer,
    argument_parser,
    request_body,
    run_until_signalled,
)

TSA_PATH = "/tsa"
POLICY_OID = "1.3.6.1.4.1.99999.3161.1"  # a private-arc policy id: test double only
REPLY_TYPE = "application/timestamp-reply"


class TsaDouble(ServedDouble):
    modes = ("up", "down", "unavailable", "reject")
    counters = ("granted",)
    path = TSA_PATH
    software = "omsorgshub-tsa-double"
    max_body_bytes = 64 * 1024

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._root: x509.Certificate | None = None
        self._leaf: x509.Certificate | None = None
        self._leaf_key: rsa.RSAPrivateKey | None = None
        self._serials = itertools.count(1)
        super().__init__(host, port)

    def _started(self) -> None:
        self._root, self._leaf, self._leaf_key = _make_pki()

    @property
    def root_certificate(self) -> x509.Certificate:
        if self._root is None:
            raise RuntimeError("the TSA double is not started")
        return self._root

    @property
    def root_pem(self) -> bytes:
        return self.root_certificate.public_bytes(serialization.Encoding.PEM)

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        if (environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")) != ("POST", TSA_PATH):
            return answer(start_response, HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        mode = self._meet_mode()
        if mode == "unavailable":
            return answer(start_response, HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"")
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/timestamp-query":
            return answer(start_response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "text/plain", b"")
        try:
            request = tsp.TimeStampReq.load(request_body(environ))
            request.native  # noqa: B018 - parses every field now, so a bad request fails here
        except ValueError:
            return answer(start_response, HTTPStatus.BAD_REQUEST, "text/plain", b"bad request")
        if mode == "reject":
            reply = tsp.TimeStampResp({"status": {"status": "rejection"}}).dump()
        else:
            reply = self._grant(request)
            self._count("granted")
        return answer(start_response, HTTPStatus.OK, REPLY_TYPE, reply)

    def _grant(self, request: tsp.TimeStampReq) -> bytes:
        assert self._leaf is not None
        assert self._leaf_key is not None
        info: dict[str, object] = {
            "version": "v1",
            "policy": POLICY_OID,
            "message_imprint": request["message_imprint"],
            "serial_number": next(self._serials),
            "gen_time": datetime.now(UTC).replace(microsecond=0),
            "accuracy": {"seconds": 1},
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst_info = tsp.TSTInfo(info)
        content = tst_info.dump()
        leaf = asn1_x509.Certificate.load(self._leaf.public_bytes(serialization.Encoding.DER))
        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(leaf.dump()).digest()}]}],
                },
            ]
        )
        signature = self._leaf_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": leaf.issuer,
                            "serial_number": leaf.serial_number,
                        }
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(content),
                },
                "certificates": [leaf],
                "signer_infos": [signer],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        reply = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(reply.dump())


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _make_pki() -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    """A root CA and a TSA certificate it issued (valid an hour back and a day ahead)."""
    now = datetime.now(UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Omsorgshub TSA double root")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Omsorgshub TSA double")])
    root = _certificate(
        root_name,
        root_name,
        root_key,
        root_key.public_key(),
        now,
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_CA_KEY_USAGE, True),
        (x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False),
    )
    leaf = _certificate(
        leaf_name,
        root_name,
        root_key,
        leaf_key.public_key(),
        now,
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False),
    )
    return root, leaf, leaf_key


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    public_key: rsa.RSAPublicKey,
    now: datetime,
    *extensions: tuple[x509.ExtensionType, bool],
) -> x509.Certificate:
    """A certificate for ``public_key`` signed by ``issuer_key``, valid an hour back and a day
    ahead, with ``extensions`` as (extension, critical)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def main() -> int:
    parser = argument_parser(__name__, "A local RFC 3161 time-stamping authority.")
    args = parser.parse_args()
    return run_until_signalled(TsaDouble(args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
