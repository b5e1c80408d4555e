"""What every SOAP adapter here shares: hardened zeep settings, a quiet transport, loading a WSDL,
and the one mapping of SOAP, HTTP and zeep failures to hub errors.

zeep's defaults parse DTDs (``forbid_dtd=False``) and its transport logs every request and
response in full at DEBUG level (``zeep.transports``): for the hub's messages that is personal
data and, for UBW, a password in the body. Both SOAP adapters build their clients here
(:func:`new_session`, :func:`load_wsdl`, :func:`bind_service`) and run every call through
:func:`map_soap_outcome`, which reads the adapter's one ``Transience`` declaration.

Fault codes (:func:`fault_code`, :data:`PERMANENT_FAULT_CODES`): SOAP 1.1 codes come prefixed
and may be dotted (``soap:Client.Validation``: the class is ``Client``), SOAP 1.2 names the
same classes ``Sender`` and ``Receiver``. A fault of the sender's making (``Client``,
``Sender``, ``VersionMismatch``, ``MustUnderstand``, ``DataEncodingUnknown``) will fail again
as sent: permanent. Any other (``Server``, ``Receiver``, WCF's ``InternalServiceFault``, none
at all) is the service's trouble: transient.

Each adapter names its failures with a :class:`SoapDialect`: the reason codes they are
recorded under and whether the fault string may be shown (UBW's are; the case systems echo
personal data in theirs). Details never carry the request or the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import zeep
from lxml import etree
from urllib3.exceptions import MaxRetryError, NewConnectionError
from zeep.exceptions import DTDForbidden, EntitiesForbidden, Fault, TransportError
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import ValidationError as ZeepValidationError

from adapters.transience import Transience
from hub.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = [
    "PERMANENT_FAULT_CODES",
    "QuietTransport",
    "SoapDialect",
    "bind_service",
    "fault_code",
    "hardened_settings",
    "is_permanent_fault",
    "load_wsdl",
    "map_soap_outcome",
    "never_sent",
    "new_session",
    "opened",
]

PERMANENT_FAULT_CODES: frozenset[str] = frozenset(
    {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}
)
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_T = TypeVar("_T")

# zeep has no type annotations: its entry point, typed loosely once here.
_zeep_client: Callable[..., Any] = zeep.Client


@dataclass(frozen=True)
class SoapDialect:
    """The reason codes one system's SOAP failures are recorded under, and whether its fault
    strings may be shown (cut short, secrets and digit runs blanked). The defaults are the case
    systems'; UBW's adapter kept the names it recorded before the two mappings became one."""

    client_fault: str = "soap_client_fault"
    server_fault: str = "soap_server_fault"
    hostile: str = "hostile_response"
    request_invalid: str = "request_invalid"
    response_invalid: str = "response_invalid"
    wsdl_unreadable: str = "wsdl_unreadable"
    wsdl_invalid: str = "wsdl_invalid"
    wsdl_mismatch: str = "wsdl_mismatch"
    fault_text: bool = False


def hardened_settings() -> zeep.Settings:
    """No DTD, no entities, no external references, no huge trees; strict parsing."""
    return zeep.Settings(
        strict=True,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
        xml_huge_tree=False,
    )


class QuietTransport(zeep.Transport):
    """zeep's transport without its DEBUG log of whole requests and responses."""

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        response: requests.Response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout
        )
        return response


def opened(adapter: str, service: _T | None) -> _T:
    """The adapter's bound ``service`` (set by ``open``, cleared by ``close``), or a transient
    ``adapter_closed`` error: a delivery that finds the adapter closed is tried again later."""
    if service is None:
        raise TransientDeliveryError(f"adapter {adapter!r} is not open", reason="adapter_closed")
    return service


def new_session() -> requests.Session:
    """A ``requests`` session that ignores the environment's proxies and follows no redirect."""
    session = requests.Session()
    session.trust_env = False  # a stray HTTPS_PROXY must not reroute personal data
    session.max_redirects = 0  # a redirected POST is refused (TooManyRedirects)
    return session


# -- loading a WSDL ------------------------------------------------------------------------------


def load_wsdl(
    where: str, wsdl: str, session: requests.Session, timeout: float, dialect: SoapDialect
) -> Any:
    """A zeep client for ``wsdl`` (a path or URL) with the hardened settings and a quiet
    transport on ``session``. A WSDL URL that cannot be reached or answers 5xx is a
    ``TransientDeliveryError`` (``wsdl_unavailable``); a missing, unreadable or invalid WSDL a
    ``ConfigError``."""
    transport = QuietTransport(  # type: ignore[no-untyped-call]
        session=session, timeout=timeout, operation_timeout=timeout
    )
    try:
        return _zeep_client(wsdl, transport=transport, settings=hardened_settings())
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status is not None and status >= 500:
            raise TransientDeliveryError(
                f"{where} cannot be loaded (HTTP {status})", reason="wsdl_unavailable"
            ) from exc
        raise ConfigError(
            f"{where} cannot be loaded (HTTP {status})", reason=dialect.wsdl_unreadable
        ) from exc
    except (requests.exceptions.SSLError, requests.exceptions.InvalidURL) as exc:
        raise ConfigError(
            f"{where} cannot be loaded ({type(exc).__name__})", reason=dialect.wsdl_unreadable
        ) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientDeliveryError(
            f"{where} cannot be loaded ({type(exc).__name__})", reason="wsdl_unavailable"
        ) from exc
    except OSError as exc:  # a missing file; requests' other errors are OSErrors too
        raise ConfigError(
            f"{where} cannot be read ({type(exc).__name__})", reason=dialect.wsdl_unreadable
        ) from exc
    except (ZeepError, etree.Error, ValueError) as exc:
        raise ConfigError(
            f"{where} is not a usable WSDL ({type(exc).__name__})", reason=dialect.wsdl_invalid
        ) from exc


def bind_service(
    where: str,
    client: Any,
    binding: str,
    operations: Sequence[str],
    address: str | None,
    dialect: SoapDialect,
) -> Any:
    """zeep's service proxy for ``binding`` at ``address`` (else the WSDL's own address), once
    the binding is known to have every one of ``operations``; a ``ConfigError`` if not."""
    found = client.wsdl.bindings.get(binding)
    missing = [op for op in operations if found is None or not _has_operation(found, op)]
    if missing:
        raise ConfigError(
            f"{where} lacks {', '.join(missing)} of the contract", reason=dialect.wsdl_mismatch
        )
    address = address or _binding_address(client, binding)
    if address is None or not address.startswith(("http://", "https://")):
        raise ConfigError(f"{where} has no http(s) address: give option 'url'")
    return client.create_service(binding, address)


def binding_offers(client: Any, binding: str, operation: str) -> bool:
    """Whether ``binding`` of a loaded WSDL has ``operation``: for an operation a service may
    lack (a newer one of the contract), asked once in ``open``."""
    found = client.wsdl.bindings.get(binding)
    return found is not None and _has_operation(found, operation)


def _has_operation(binding: Any, operation: str) -> bool:
    try:
        binding.get(operation)
    except ValueError:
        return False
    return True


def _binding_address(client: Any, binding: str) -> str | None:
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            if port.binding.name.text == binding:
                address = port.binding_options.get("address")
                return address if isinstance(address, str) else None
    return None


# -- the one place where SOAP, HTTP and zeep failures become hub errors -------------------------


def fault_code(code: str | None) -> str | None:
    """``soap:Client.Validation`` -> ``Client``: the local part's first segment."""
    if not code:
        return None
    local = code.strip().rpartition(":")[2]
    return local.split(".", 1)[0] or None


def is_permanent_fault(code: str | None) -> bool:
    """Whether a fault with this (raw) code will fail again as sent."""
    return fault_code(code) in PERMANENT_FAULT_CODES


def never_sent(error: BaseException) -> bool:
    """Whether ``requests`` failed before the request left: no connection could be made."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or not error.args:
        return False
    cause = error.args[0]
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def map_soap_outcome(
    destination: str,
    operation: str,
    call: Callable[[], _T],
    transience: Transience,
    dialect: SoapDialect,
    *,
    secrets: Sequence[str] = (),
) -> _T:
    """Run one SOAP call; translate every failure into a hub delivery error: a fault by its
    code, an HTTP status without a SOAP answer and a transport error by ``transience``, a
    hostile or unfitting answer and an unfitting request as permanent."""
    where = f"{destination}: {operation}"

    def failed(
        kind: type[DeliveryError], what: str, reason: str | None = None, **context: object
    ) -> DeliveryError:
        return kind(f"{where}: {what}", reason=reason, operation=operation, **context)

    try:
        return call()
    except Fault as exc:
        code = fault_code(exc.code)
        error_code = _error_code_of(exc.detail)
        what = f"SOAP {code or 'unknown'} fault" + (f" ({error_code})" if error_code else "")
        if dialect.fault_text:
            what += f": {_fault_text(exc.message, secrets)}"
        context = {"fault_code": code or "", "error_code": error_code}
        if code in PERMANENT_FAULT_CODES:
            raise failed(PermanentDeliveryError, what, dialect.client_fault, **context) from exc
        raise failed(TransientDeliveryError, what, dialect.server_fault, **context) from exc
    except TransportError as exc:
        status = exc.status_code
        kind = (
            TransientDeliveryError
            if transience.is_transient_status(status)
            else PermanentDeliveryError
        )
        raise failed(kind, f"HTTP {status} without a SOAP answer", status=status) from exc
    except (DTDForbidden, EntitiesForbidden) as exc:
        what = "the answer declares a DOCTYPE or entities; refused unread"
        raise failed(PermanentDeliveryError, what, dialect.hostile) from exc
    except ZeepValidationError as exc:
        path = ".".join(str(step) for step in exc.path)
        what = f"the request does not fit the contract at {path or 'its root'}"
        raise failed(PermanentDeliveryError, what, dialect.request_invalid) from exc
    except ZeepError as exc:
        what = f"the answer does not fit the contract ({type(exc).__name__})"
        raise failed(PermanentDeliveryError, what, dialect.response_invalid) from exc
    except requests.exceptions.SSLError as exc:
        raise failed(PermanentDeliveryError, f"TLS failed ({type(exc).__name__})") from exc
    except transience.errors as exc:
        error = type(exc).__name__
        what = f"no SOAP answer ({error})"
        raise failed(TransientDeliveryError, what, error=error) from exc
    except requests.RequestException as exc:  # TooManyRedirects, InvalidURL, ...
        error = type(exc).__name__
        what = f"request failed ({error})"
        raise failed(PermanentDeliveryError, what, error=error) from exc


def _error_code_of(detail: object) -> str:
    """The contract's ``errorCode`` in a fault's detail, if it is a plain code (never a value)."""
    if not isinstance(detail, etree._Element):
        return ""
    found = next(detail.iter("{*}errorCode"), None)  # in whatever namespace the contract has
    text = (found.text or "").strip() if found is not None else ""
    return text if _ERROR_CODE.fullmatch(text) else ""


def _fault_text(message: object, secrets: Sequence[str]) -> str:
    """A fault string fit for an error detail: short, no secret, no long digit runs."""
    text = " ".join(str(message or "").split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"\d[\d\- ]{4,}\d", "[digits]", text)[:200] or "no fault string"
