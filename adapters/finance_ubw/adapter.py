"""Finance system: Unit4 Business World (UBW, formerly Agresso) over SOAP with zeep.

System: the municipality's finance system. The hub delivers to it (``Adapter.deliver``)
assistance-compensation payments from the case system as vouchers (``finance.payment`` v1,
seed 003: Lifecare -> UBW instead of printed decisions keyed in by hand) and payment deferrals
the contact centre grants (``finance.deferral`` v1, seed 001: up to 30 days on a care-fee
invoice), and answers the contact centre's question "is this invoice paid?"
(``LookupAdapter.lookup``, lookup ``invoice_status``). The local double is
``adapters.doubles.ubw_double``.

Protocol: SOAP 1.1 document/literal with zeep (``Settings(strict=True, forbid_dtd=True,
forbid_entities=True, forbid_external=True)``, ``operation_timeout`` set), against UBW's web
services at ``<url>?<service>`` as UBW publishes them (``url`` is the ``.../service.svc`` base):

- payments: ``ImportService/ImportV200606`` ``ExecuteServerProcessAsynchronously`` with the
  standard voucher import GL07 (menu BI88) and an ABWTransaction document in ``Xml``: one
  voucher of two lines, an AP line crediting the recipient as supplier (``ApArNo``: the
  organisation or identity number; ``InvoiceNo``: the voucher id; ``DueDate``) and a GL line
  debiting the account and dimensions, with the hours in ``Number1``; the decision id is the
  ``ExternalRef`` of both. The client's identity number is not sent unless the client is the
  recipient: UBW needs the payee, and the decision id leads back to the case.
- deferrals: the same operation with the server process OHAR01 and an ``ArDeferral`` document
  (``schemas/xsd/ubw-ar-deferral.xsd``). INVENTED: UBW has no public interface for moving the
  due date of a customer invoice; OHAR01 stands for the customer-specific server process a
  municipality would have built, and its document borrows UBW's field names.
- invoice status: ``QueryEngineService/QueryEngineV201101`` ``GetTemplateResultAsXML`` with
  the browser template ``template_id`` and search criteria on ``ext_inv_ref`` (invoice number),
  ``kid`` (OCR reference) and, when the lookup has a subject, ``ext_apar_ref`` (the payer's
  identity number), so that one person's lookup never finds another person's invoice. The
  template and its columns (``ext_inv_ref``, ``kid``, ``amount``, ``rest_amount``,
  ``due_date``, ``currency``) are INVENTED names in UBW's style; each installation defines its
  own template, whose column names would go here.

The WSDLs (``schemas/wsdl/ubw-*.wsdl``) are faithful subsets; what in them is invented is said
at their top. The ABWTransaction schema the double validates against is a subset too
(``schemas/xsd/ubw-abwtransaction.xsd``). Per-installation values (GL07's variant, the voucher
type, the interface code) are constants here and in ``adapters.finance_ubw.mapping``, which maps
the documents and answers (no I/O) while this module speaks to UBW.

Authentication: ``username``, ``client`` and ``password`` in the request body
(``<credentials><Username/><Client/><Password/></credentials>``), as UBW does; the client is
also the company code of the vouchers. The password never appears in ``repr``, errors or logs:
zeep's transport would log whole requests at DEBUG, so this adapter's transport does not.

Retry and idempotency: the hub's delivery id is the ``BatchId`` of every document sent. The
double refuses a second import of a BatchId and answers it with the first order number and the
``Duplicate`` flag (invented, optional in the WSDL), which becomes ``Receipt.duplicate``.
Whether the standard GL07 refuses a repeated BatchId is not publicly documented; against a real
UBW the second line of defence is its duplicate check of a supplier's invoice number, which is
the voucher id here, unique per payment. The OHAR01 process must refuse a repeated BatchId.
Inside one call, connection errors are retried (option ``retries``, 50-200 ms apart) by the
adapters' one tenacity retry (``adapters.transience``): a repeat is harmless, since UBW keeps
one import per BatchId. Failures become hub errors in one place, ``adapters.soap``'s
``map_soap_outcome``, reading this adapter's ``TRANSIENCE``: server faults (any fault but a
sender's: ``Client``, ``Client.Validation``, ``Sender``, ...), HTTP 408/425/429/5xx, an answer
that is no XML at all, timeouts and connection errors are ``TransientDeliveryError``; client
faults (wrong credentials, a document UBW refuses or finds invalid), other HTTP statuses,
requests that do not fit the WSDL, answers that do not, and answers with a DOCTYPE are
``PermanentDeliveryError``. Fault strings in error details are cut short, with the password
and digit runs (identity numbers) blanked out. What can be checked here is checked
before any network call: a deferral over ``MAX_DEFERRAL_DAYS`` and an OCR reference failing its
check digit (``adapters.finance_ubw.ocr``) are permanent errors saying why.

Data categories: identity (recipient, payer), decisions, fees, invoices. Documents and answers
are held only for the length of a call; lookups return plain data the hub does not store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from adapters import StrictOptions
from adapters.finance_ubw.mapping import (
    DEFERRAL_NS,
    PAYMENT_NS,
    abw_transaction,
    ar_deferral,
    invoice_answer,
    invoice_criteria,
    parse_body,
    read_deferral,
    read_payment,
    template_rows,
)
from adapters.soap import (
    SoapDialect,
    bind_service,
    load_wsdl,
    map_soap_outcome,
    new_session,
    opened,
)
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import LookupRequest, LookupResult, OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError

__all__ = ["DIALECT", "TRANSIENCE", "UbwFinanceAdapter"]

WSDL_DIR = Path(__file__).resolve().parents[2] / "schemas" / "wsdl"
QUERY_NS = "http://services.agresso.com/QueryEngineService/QueryEngineV201101"
IMPORT_NS = "http://services.agresso.com/ImportService/ImportV200606"
QUERY_SERVICE = "QueryEngineService/QueryEngineV201101"
IMPORT_SERVICE = "ImportService/ImportV200606"
BINDINGS = {  # service -> (binding, the operation the adapter calls)
    QUERY_SERVICE: (f"{{{QUERY_NS}}}QueryEngineV201101Soap", "GetTemplateResultAsXML"),
    IMPORT_SERVICE: (f"{{{IMPORT_NS}}}ImportV200606Soap", "ExecuteServerProcessAsynchronously"),
}


@dataclass(frozen=True)
class ServerProcess:
    id: str
    menu_id: str
    variant: int


VOUCHER_IMPORT = ServerProcess("GL07", "BI88", 103)  # GL07/BI88: UBW's; the variant: per site
DEFERRAL_UPDATE = ServerProcess("OHAR01", "OHAR01", 1)  # invented (see the module docstring)
INVOICE_STATUS = "invoice_status"
OPTIONS = (
    "url", "username", "client", "password", "template_id", "timeout", "retries",
    "wsdl_queryengine", "wsdl_import",
)  # fmt: skip


def _connection_failed(error: BaseException) -> bool:
    return isinstance(error, requests.ConnectionError) and not isinstance(
        error, requests.exceptions.SSLError
    )


# The one declaration of what is transient here, read by map_soap_outcome and the in-call retry.
# HTTP 200 is here for an answer that is no SOAP at all (a proxy's page).
TRANSIENCE = Transience(
    statuses=frozenset({200, 408, 425, 429, *range(500, 600)}),
    errors=(
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
    ),
    retry_in_call=_connection_failed,
)
# The reason codes this adapter recorded before the SOAP mappings became one, kept as they were.
DIALECT = SoapDialect(
    client_fault="ubw_rejected",
    server_fault="ubw_fault",
    hostile="hostile_answer",
    request_invalid="invalid_request",
    response_invalid="ubw_unexpected_answer",
    wsdl_unreadable="wsdl_invalid",
    wsdl_mismatch="wsdl_invalid",
    fault_text=True,
)


class UbwFinanceAdapter:
    """Options: ``url`` (the ``.../service.svc`` base), ``username``, ``client``, ``password``
    (all required), ``template_id`` (invoice-status template), ``timeout`` (s, 30),
    ``retries`` (1), ``wsdl_queryengine`` and ``wsdl_import`` (file or URL; packaged)."""

    kind = "ubw"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, OPTIONS)
        url = opts.required("url", str)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise opts.fail("url", "must be an absolute http:// or https:// URL")
        if parts.query or parts.fragment:
            raise opts.fail("url", "must end at service.svc: the service name is appended")
        username, client, password = (
            opts.required(key, str) for key in ("username", "client", "password")
        )
        for key, value in (("username", username), ("client", client), ("password", password)):
            if not value:
                raise opts.fail(key, "must not be empty")
        timeout = opts.get("timeout", float, 30.0)
        if not (math.isfinite(timeout) and timeout > 0):
            raise opts.fail("timeout", "must be a positive number of seconds")
        retries = opts.get("retries", int, 1)
        if not 0 <= retries <= MAX_RETRIES:
            raise opts.fail("retries", f"must be between 0 and {MAX_RETRIES}")
        template_id = opts.optional("template_id", int)
        if template_id is not None and template_id <= 0:
            raise opts.fail("template_id", "must be a positive template number")
        wsdl_queryengine = opts.get("wsdl_queryengine", str, str(WSDL_DIR / "ubw-queryengine.wsdl"))
        wsdl_import = opts.get("wsdl_import", str, str(WSDL_DIR / "ubw-import.wsdl"))
        for key, value in (("wsdl_queryengine", wsdl_queryengine), ("wsdl_import", wsdl_import)):
            if not value:
                raise opts.fail(key, "must be a file path or an http(s) URL")
        self.name = name
        self.url = url
        self.username = username
        self.client = client
        self.template_id = template_id
        self.timeout = timeout
        self.retries = retries
        self.wsdl_queryengine = wsdl_queryengine
        self.wsdl_import = wsdl_import
        self._password = password
        self._session: requests.Session | None = None
        self._services: _Services | None = None

    def __repr__(self) -> str:
        return (
            f"UbwFinanceAdapter(name={self.name!r}, url={self.url!r}, "
            f"username={self.username!r}, client={self.client!r}, password=***)"
        )

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._services is not None:
            return
        session = new_session()
        try:
            query = self._bind(session, self.wsdl_queryengine, QUERY_SERVICE)
            importer = self._bind(session, self.wsdl_import, IMPORT_SERVICE)
        except BaseException:
            session.close()
            raise
        self._session, self._services = session, _Services(query, importer)

    def close(self) -> None:
        session, self._session, self._services = self._session, None, None
        if session is not None:
            session.close()

    def _bind(self, session: requests.Session, wsdl: str, service: str) -> Any:
        where = f"adapter {self.name!r} (ubw): WSDL {wsdl!r}"
        client = load_wsdl(where, wsdl, session, self.timeout, DIALECT)
        binding, operation = BINDINGS[service]
        address = f"{self.url}?{service}"
        return bind_service(where, client, binding, (operation,), address, DIALECT)

    # -- the ports ----------------------------------------------------------------------------

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        kind = (delivery.message_type, delivery.version)
        if kind == ("finance.payment", "1"):
            voucher = read_payment(parse_body(delivery.document, PAYMENT_NS, "PaymentVoucher"))
            process = VOUCHER_IMPORT
            xml = abw_transaction(
                voucher, batch_id=delivery.delivery_id, client=self.client,
                voucher_date=delivery.created_at.date(),
            )  # fmt: skip
        elif kind == ("finance.deferral", "1"):
            deferral = read_deferral(parse_body(delivery.document, DEFERRAL_NS, "PaymentDeferral"))
            process = DEFERRAL_UPDATE
            xml = ar_deferral(deferral, batch_id=delivery.delivery_id, client=self.client)
        else:
            raise PermanentDeliveryError(
                f"{self.name}: UBW takes finance.payment v1 and finance.deferral v1, "
                f"not {delivery.message_type} v{delivery.version}",
                reason="unsupported_message_type",
            )
        services = opened(self.name, self._services)
        result = self._call(
            services.importer.ExecuteServerProcessAsynchronously,
            "ExecuteServerProcessAsynchronously",
            input={"ServerProcessId": process.id, "MenuId": process.menu_id,
                   "Variant": process.variant, "Xml": xml.decode()},
            credentials=self._credentials(),
        )  # fmt: skip
        order = getattr(result, "OrderNumber", None)
        if order is None:
            raise PermanentDeliveryError(
                f"{self.name}: UBW answered without an order number", reason="ubw_unexpected_answer"
            )
        return Receipt(
            reference=str(order),
            duplicate=getattr(result, "Duplicate", None) is True,
            details={"server_process": process.id, "order_number": str(order)},
        )

    def lookup(self, request: LookupRequest) -> LookupResult:
        if request.lookup != INVOICE_STATUS:
            raise PermanentDeliveryError(
                f"{self.name}: no lookup {request.lookup!r}; UBW answers {INVOICE_STATUS!r}",
                reason="unknown_lookup",
            )
        criteria = invoice_criteria(request.params, request.subject)
        if self.template_id is None:
            raise PermanentDeliveryError(
                f"{self.name}: option 'template_id' is not set", reason="lookup_not_configured"
            )
        services = opened(self.name, self._services)
        result = self._call(
            services.query.GetTemplateResultAsXML,
            "GetTemplateResultAsXML",
            input={
                "TemplateId": self.template_id,
                "TemplateResultOptions": {
                    "ShowDescriptions": False, "Aggregated": True, "OverrideAggregation": False,
                    "CalculateFormulas": False, "FormatAlternativeBreakColumns": False,
                    "RemoveHiddenColumns": True, "FirstRecord": -1, "LastRecord": -1,
                },
                "SearchCriteriaPropertiesList": {"SearchCriteriaProperties": criteria},
            },
            credentials=self._credentials(),
        )  # fmt: skip
        code = getattr(result, "ReturnCode", None)
        if code != 0:
            raise PermanentDeliveryError(
                f"{self.name}: the invoice-status template answered ReturnCode {code}",
                reason="ubw_query_failed", return_code=code,
            )  # fmt: skip
        rows = template_rows(getattr(result, "TemplateResult", None) or "")
        return LookupResult(invoice_answer(rows))

    # -- the wire -----------------------------------------------------------------------------

    def _credentials(self) -> dict[str, str]:
        return {"Username": self.username, "Client": self.client, "Password": self._password}

    def _call(self, operation: Callable[..., Any], name: str, **kwargs: Any) -> Any:
        retrying = in_call_retrying(TRANSIENCE, self.retries)
        return map_soap_outcome(
            self.name, name, lambda: retrying(operation, **kwargs), TRANSIENCE, DIALECT,
            secrets=(self._password,),
        )  # fmt: skip


@dataclass(frozen=True)
class _Services:
    query: Any  # zeep ServiceProxy for QueryEngineV201101
    importer: Any  # zeep ServiceProxy for ImportV200606
