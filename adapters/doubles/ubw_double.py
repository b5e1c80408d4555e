"""A local double of Unit4 Business World's web services: QueryEngine and ImportService.

It speaks the subsets in ``schemas/wsdl/ubw-queryengine.wsdl`` and ``ubw-import.wsdl`` (SOAP
1.1, document/literal) as a small WSGI application, :meth:`UbwDouble.app`, served by the
doubles' threaded HTTP/1.1 server with keep-alive (``wsgi_server``) on 127.0.0.1 (port 0 picks a
free one), or in its own process with ``python -m adapters.doubles.ubw_double --port N``, which
prints the service base URL. No SOAP library on this side: requests are parsed with lxml (no
DTD, no entities, no network; any DOCTYPE is refused), checked against the WSDL's own schema,
and answered with lxml.

Endpoints, as UBW lays them out under one ``service.svc``:

    GET  /service.svc?QueryEngineService/QueryEngineV201101   the WSDL, address pointing here
    POST /service.svc?QueryEngineService/QueryEngineV201101   GetTemplateResultAsXML
    GET  /service.svc?ImportService/ImportV200606             the WSDL
    POST /service.svc?ImportService/ImportV200606             ExecuteServerProcessAsynchronously
    GET  /_stats, POST /_control {"mode", "delay", "times"}, POST /_reset

Behaviour: every call must carry the configured ``credentials`` (else a Client fault, which
never repeats the password). ``GetTemplateResultAsXML`` with the configured template id filters
the seeded invoices by the criteria ``ext_inv_ref``, ``kid`` and ``ext_apar_ref`` (``=`` only)
and answers ``<Agresso><AgressoQE>`` rows; an unknown template answers ReturnCode -1.
``ExecuteServerProcessAsynchronously`` runs GL07 (menu BI88): the ABWTransaction in ``Xml`` is
validated against ``schemas/xsd/ubw-abwtransaction.xsd``, must be for the configured client,
balance per voucher and post to no closed account (``closed_accounts``, by default 4599: a
``soap:Client.Validation`` fault, as UBW's account validation answers), and is stored once per
``BatchId``; a repeat answers the first order number
with ``Duplicate`` true. It also runs the invented OHAR01 deferral process (see
``schemas/xsd/ubw-ar-deferral.xsd``): the invoice must exist, be the payer's and be unpaid, and
the deferral may be at most 30 days; then its due date moves. A real UBW runs these processes
later and logs their errors; the double checks at once and answers a Client fault, so that a
test sees what the process would refuse.

Modes make it misbehave on purpose (``times`` limits a mode to the next ``n`` service calls):

    up           answer normally
    down         read the request, close the connection without an answer
    unavailable  HTTP 503 with no SOAP body
    slow         sleep ``delay`` seconds, then answer normally (stored even if the client left)
    fault        SOAP Server fault (HTTP 500): try again later; nothing is stored
    reject       SOAP Client fault (HTTP 500): will never succeed as sent; nothing is stored
    hostile      answer with a DOCTYPE declaring an external entity (XXE); nothing is stored

The double keeps everything in memory; feed it fictional data only. The seeded invoices belong
to 19121212-1212, the Swedish Tax Agency's published test identity ("Tolvan Tolvansson").
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Literal, get_args
from wsgiref.types import StartResponse, WSGIEnvironment

from lxml import etree

from adapters.doubles.ubw_ledger import (
    CLOSED_ACCOUNTS,
    TOLVAN,
    Invoice,
    Stored,
    matches,
    seed_invoices,
)
from adapters.doubles.ubw_soap import (
    HOSTILE,
    SOAP_ENV,
    Schemas,
    SoapFault,
    element,
    envelope,
    fault_envelope,
    parse,
    wsdl,
)
from adapters.doubles.wsgi_server import (
    ServedDouble,
    answer,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)

__all__ = ["MODES", "TOLVAN", "Invoice", "UbwDouble", "main", "seed_invoices"]

Mode = Literal["up", "down", "unavailable", "slow", "fault", "reject", "hostile"]
MODES: tuple[str, ...] = get_args(Mode)
SERVICE_PATH = "/service.svc"
QUERY_SERVICE = "QueryEngineService/QueryEngineV201101"
IMPORT_SERVICE = "ImportService/ImportV200606"
SERVICES = {
    QUERY_SERVICE: ("ubw-queryengine.wsdl", "GetTemplateResultAsXML"),
    IMPORT_SERVICE: ("ubw-import.wsdl", "ExecuteServerProcessAsynchronously"),
}
QUERY_NS = "http://services.agresso.com/QueryEngineService/QueryEngineV201101"
IMPORT_NS = "http://services.agresso.com/ImportService/ImportV200606"
ABW_NS = "http://services.agresso.com/schema/ABWTransaction/2011/11/14"
AGRLIB_NS = "http://services.agresso.com/schema/ABWSchemaLib/2011/11/14"
DEFERRAL_NS = "urn:omsorgshub:ubw:ar-deferral:1"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DEFERRAL_DAYS = 30
FIRST_ORDER_NUMBER = 700001
_XML = "text/xml; charset=utf-8"


class UbwDouble(ServedDouble):
    """UBW's QueryEngine and ImportService on ``host:port``, with seeded fictional invoices."""

    modes = MODES
    counters = ("wsdl_requests", "queries", "duplicates", "faults")
    path = SERVICE_PATH  # the ``service.svc`` base the adapter's ``url`` option takes
    software = "OmsorgshubUbwDouble/1"
    max_body_bytes = MAX_BODY_BYTES

    _stored: dict[str, Stored]
    _invoices: dict[str, Invoice]

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str = "HUBWS",
        client: str = "SE10",
        password: str = "fiktivt-losenord",  # noqa: S107  # a double's made-up password
        template_id: int = 4711,
        invoices: Iterable[Invoice] | None = None,
        closed_accounts: Iterable[str] = CLOSED_ACCOUNTS,
    ) -> None:
        self.username, self.client, self.template_id = username, client, template_id
        self.closed_accounts = frozenset(closed_accounts)
        self._password = password
        self._seed = list(seed_invoices() if invoices is None else invoices)
        self._schemas = Schemas()
        super().__init__(host, port)

    def wsdl_url(self, service: str) -> str:
        return f"{self.url}?{service}"

    # -- observation and seeding --------------------------------------------------------------

    def documents(self) -> dict[str, bytes]:
        """The stored ABWTransaction documents by BatchId, as received."""
        with self._lock:
            return {k: s.xml for k, s in self._stored.items() if s.process == "GL07"}

    def deferral_documents(self) -> dict[str, bytes]:
        with self._lock:
            return {k: s.xml for k, s in self._stored.items() if s.process == "OHAR01"}

    def invoice(self, invoice_number: str) -> Invoice:
        with self._lock:
            return self._invoices[invoice_number]

    def add_invoice(self, invoice: Invoice) -> None:
        with self._lock:
            self._invoices[invoice.invoice_number] = invoice

    def _observations(self) -> dict[str, object]:
        processes = [s.process for s in self._stored.values()]
        return {"vouchers": processes.count("GL07"), "deferrals": processes.count("OHAR01")}

    def _forget(self) -> None:
        """Forget stored documents and restore the seeded invoices."""
        self._stored = {}
        self._invoices = {i.invoice_number: i for i in self._seed}

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        service = environ.get("QUERY_STRING", "").split("&")[0]
        if path == SERVICE_PATH and service in SERVICES:
            if method == "GET":
                self._count("wsdl_requests")
                document = wsdl(SERVICES[service][0], self.wsdl_url(service))
                return answer(start_response, HTTPStatus.OK, _XML, document)
            if method == "POST":
                return self._soap(environ, start_response, service)
        return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _soap(
        self, environ: WSGIEnvironment, start_response: StartResponse, service: str
    ) -> Iterable[bytes]:
        body = request_body(environ)
        mode = self._meet_mode()
        if mode == "unavailable":
            return answer(start_response, HTTPStatus.SERVICE_UNAVAILABLE, "text/html", b"")
        if mode == "hostile":
            return answer(start_response, HTTPStatus.OK, _XML, HOSTILE)
        try:
            if mode == "fault":
                raise SoapFault("Server", "The server is busy; try again later (mode 'fault')")
            if mode == "reject":
                raise SoapFault("Client", "The request is refused (mode 'reject')")
            result = self._operation(service, body)
        except SoapFault as fault:
            self._count("faults")
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            return answer(start_response, status, _XML, fault_envelope(fault))
        return answer(start_response, HTTPStatus.OK, _XML, envelope(result))

    def _operation(self, service: str, body: bytes) -> etree._Element:
        request = parse(body, "the SOAP request")
        operation = request.find(f"{{{SOAP_ENV}}}Body/*")
        namespace = QUERY_NS if service == QUERY_SERVICE else IMPORT_NS
        expected = f"{{{namespace}}}{SERVICES[service][1]}"
        if operation is None or operation.tag != expected:
            raise SoapFault("Client", f"this endpoint serves {SERVICES[service][1]} only")
        self._schemas.check(SERVICES[service][0], operation, "the request does not fit the WSDL")
        self._check_credentials(operation.find(f"{{{namespace}}}credentials"), namespace)
        if service == QUERY_SERVICE:
            return self._query(operation)
        return self._import(operation)

    def _check_credentials(self, credentials: etree._Element | None, ns: str) -> None:
        def given(name: str) -> bytes:
            found = credentials.findtext(f"{{{ns}}}{name}") if credentials is not None else None
            return (found or "").encode()

        ok = hmac.compare_digest(given("Password"), self._password.encode())
        ok &= hmac.compare_digest(given("Username"), self.username.encode())
        ok &= hmac.compare_digest(given("Client"), self.client.encode())
        if not ok:
            raise SoapFault("Client", "Authentication failed: wrong username, client or password")

    # -- QueryEngine --------------------------------------------------------------------------

    def _query(self, operation: etree._Element) -> etree._Element:
        q = f"{{{QUERY_NS}}}"
        self._count("queries")
        answer = element(QUERY_NS, "GetTemplateResultAsXMLResponse")
        result = etree.SubElement(answer, q + "GetTemplateResultAsXMLResult")
        if operation.findtext(f"{q}input/{q}TemplateId") != str(self.template_id):
            etree.SubElement(result, q + "ReturnCode").text = "-1"
            etree.SubElement(result, q + "Status").text = "Template not found"
            return answer
        wanted: dict[str, str] = {}
        for criterion in operation.iterfind(f"{q}input/{q}SearchCriteriaPropertiesList/*"):
            column = criterion.findtext(q + "ColumnName") or ""
            if column not in ("ext_inv_ref", "kid", "ext_apar_ref"):
                raise SoapFault("Client", f"the template has no column {column[:40]!r}")
            if criterion.findtext(q + "RestrictionType") != "=":
                raise SoapFault("Client", "this double supports the restriction '=' only")
            wanted[column] = criterion.findtext(q + "FromValue") or ""
        with self._lock:
            rows = [i for i in self._invoices.values() if matches(i, wanted)]
        table = etree.Element("Agresso")
        for number, invoice in enumerate(rows):
            row = etree.SubElement(table, "AgressoQE")
            for column, value in (
                ("_recno", str(number)), ("_section", "D"),
                ("ext_inv_ref", invoice.invoice_number), ("kid", invoice.ocr),
                ("amount", f"{invoice.amount:.2f}"), ("rest_amount", f"{invoice.balance:.2f}"),
                ("due_date", f"{invoice.due_date.isoformat()}T00:00:00"),
                ("currency", invoice.currency),
            ):  # fmt: skip
                etree.SubElement(row, column).text = value
        etree.SubElement(result, q + "ReturnCode").text = "0"
        etree.SubElement(result, q + "Status").text = ""
        etree.SubElement(result, q + "TemplateResult").text = etree.tostring(table).decode()
        return answer

    # -- ImportService ------------------------------------------------------------------------

    def _import(self, operation: etree._Element) -> etree._Element:
        i = f"{{{IMPORT_NS}}}"
        process = (operation.findtext(f"{i}input/{i}ServerProcessId") or "",
                   operation.findtext(f"{i}input/{i}MenuId") or "")  # fmt: skip
        xml = (operation.findtext(f"{i}input/{i}Xml") or "").encode()
        if process == ("GL07", "BI88"):
            document = parse(xml, "the ABWTransaction")
            self._schemas.check(
                "ubw-abwtransaction.xsd", document, "the ABWTransaction is not valid"
            )
            batch_id = self._check_vouchers(document)
            order, duplicate = self._store(batch_id, "GL07", xml, lambda: None)
        elif process == ("OHAR01", "OHAR01"):
            document = parse(xml, "the ArDeferral")
            self._schemas.check("ubw-ar-deferral.xsd", document, "the ArDeferral is not valid")
            batch_id, apply = self._check_deferral(document)
            order, duplicate = self._store(batch_id, "OHAR01", xml, apply)
        else:
            raise SoapFault("Client", "unknown server process (this double runs GL07 and OHAR01)")
        answer = element(IMPORT_NS, "ExecuteServerProcessAsynchronouslyResponse")
        result = etree.SubElement(answer, i + "ExecuteServerProcessAsynchronouslyResult")
        etree.SubElement(result, i + "OrderNumber").text = str(order)
        if duplicate:
            etree.SubElement(result, i + "Duplicate").text = "true"
        return answer

    def _check_vouchers(self, document: etree._Element) -> str:
        a, lib = f"{{{ABW_NS}}}", f"{{{AGRLIB_NS}}}"
        if document.findtext(lib + "ReportClient") != self.client:
            raise SoapFault("Client", "ReportClient is not the client logged in")
        for number, voucher in enumerate(document.iterfind(a + "Voucher"), start=1):
            if voucher.findtext(lib + "CompanyCode") != self.client:
                raise SoapFault("Client", f"voucher {number}: CompanyCode is not the client")
            for account in voucher.iterfind(f"{a}Transaction/{a}GLAnalysis/{lib}Account"):
                if (account.text or "").strip() in self.closed_accounts:
                    raise SoapFault(
                        "Client.Validation",
                        f"voucher {number}: account {account.text} is closed for posting",
                        prefix="soap",
                    )
            amounts = voucher.iterfind(f"{a}Transaction/{a}Amounts/{lib}Amount")
            if sum((Decimal(x.text or "0") for x in amounts), Decimal(0)) != 0:
                raise SoapFault("Client", f"voucher {number} does not balance")
        return document.findtext(lib + "BatchId") or ""

    def _check_deferral(self, document: etree._Element) -> tuple[str, Any]:
        d = f"{{{DEFERRAL_NS}}}"
        if document.findtext(d + "ReportClient") != self.client:
            raise SoapFault("Client", "ReportClient is not the client logged in")
        number = document.findtext(f"{d}Deferral/{d}InvoiceNo")
        ocr = document.findtext(f"{d}Deferral/{d}BacsId")
        payer = document.findtext(f"{d}Deferral/{d}ExtApArRef") or ""
        days = int(document.findtext(f"{d}Deferral/{d}DeferDays") or "0")
        batch_id = document.findtext(d + "BatchId") or ""
        with self._lock:
            if batch_id in self._stored:
                return batch_id, lambda: None  # a repeat: _store answers it as a duplicate
            found = [
                i for i in self._invoices.values()
                if (number is None or i.invoice_number == number) and (ocr is None or i.ocr == ocr)
            ]  # fmt: skip
        if days > MAX_DEFERRAL_DAYS:
            raise SoapFault(
                "Client", f"a deferral of {days} days exceeds the {MAX_DEFERRAL_DAYS} days allowed"
            )
        if len(found) != 1 or found[0].payer != payer:
            raise SoapFault("Client", "no open item of this customer matches the invoice")
        invoice = found[0]
        if invoice.balance <= 0:
            raise SoapFault("Client", "the invoice is paid: there is nothing to defer")

        def apply() -> None:  # called under the lock, once, when the batch is stored
            current = self._invoices[invoice.invoice_number]
            moved = current.due_date + timedelta(days=days)
            self._invoices[invoice.invoice_number] = dataclasses.replace(current, due_date=moved)

        return batch_id, apply

    def _store(self, batch_id: str, process: str, xml: bytes, apply: Any) -> tuple[int, bool]:
        with self._lock:
            stored = self._stored.get(batch_id)
            if stored is not None:
                self._counts["duplicates"] += 1
                return stored.order_number, True
            order = FIRST_ORDER_NUMBER + len(self._stored)
            self._stored[batch_id] = Stored(order, process, xml)
            apply()
            return order, False


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.ubw_double",
        "Run the UBW (Agresso) web-services double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--username", default="HUBWS")
    parser.add_argument("--client", default="SE10")
    parser.add_argument("--password", default="fiktivt-losenord")
    parser.add_argument("--template-id", type=int, default=4711)
    args = parser.parse_args(argv)
    double = UbwDouble(
        args.host, args.port, username=args.username, client=args.client,
        password=args.password, template_id=args.template_id,
    )  # fmt: skip
    return run_until_signalled(double)


if __name__ == "__main__":
    raise SystemExit(main())
