"""A local double of Unit4 Business World's web services: QueryEngine and ImportService.

It speaks the subsets in ``schemas/wsdl/ubw-queryengine.wsdl`` and ``ubw-import.wsdl`` (SOAP
1.1, document/literal) as a small WSGI application, :meth:`UbwDouble.app`, served by a threaded
HTTP/1.1 gateway with keep-alive on 127.0.0.1 (port 0 picks a free one), or in its own process
with ``python -m adapters.doubles.ubw_double --port N``, which prints the service base URL. No
SOAP library on this side: requests are parsed with lxml (no DTD, no entities, no network; any
DOCTYPE is refused), checked against the WSDL's own schema, and answered with lxml.

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
validated against ``schemas/xsd/ubw-abwtransaction.xsd``, must be for the configured client and
balance per voucher, and is stored once per ``BatchId``; a repeat answers the first order number
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

import argparse
import contextlib
import copy
import dataclasses
import hmac
import io
import json
import signal
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TypeAlias, cast, get_args
from urllib.parse import unquote, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

from lxml import etree

from adapters.ocr import make_ocr

Mode = Literal["up", "down", "unavailable", "slow", "fault", "reject", "hostile"]
MODES: tuple[str, ...] = get_args(Mode)
SERVICE_PATH = "/service.svc"
QUERY_SERVICE = "QueryEngineService/QueryEngineV201101"
IMPORT_SERVICE = "ImportService/ImportV200606"
SERVICES = {
    QUERY_SERVICE: ("ubw-queryengine.wsdl", "GetTemplateResultAsXML"),
    IMPORT_SERVICE: ("ubw-import.wsdl", "ExecuteServerProcessAsynchronously"),
}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
QUERY_NS = "http://services.agresso.com/QueryEngineService/QueryEngineV201101"
IMPORT_NS = "http://services.agresso.com/ImportService/ImportV200606"
ABW_NS = "http://services.agresso.com/schema/ABWTransaction/2011/11/14"
AGRLIB_NS = "http://services.agresso.com/schema/ABWSchemaLib/2011/11/14"
DEFERRAL_NS = "urn:omsorgshub:ubw:ar-deferral:1"
XS_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DEFERRAL_DAYS = 30
TOLVAN = "191212121212"
FIRST_ORDER_NUMBER = 700001

_Request: TypeAlias = socket.socket | tuple[bytes, socket.socket]  # as socketserver has it


@dataclass(frozen=True)
class Invoice:
    """One customer invoice (a care fee) in the double's ledger."""

    invoice_number: str
    ocr: str
    payer: str  # identity number, 12 digits
    amount: Decimal
    balance: Decimal
    due_date: date
    currency: str = "SEK"


def seed_invoices() -> list[Invoice]:
    """Three care-fee invoices of the test identity: paid, partly paid and unpaid."""
    return [
        Invoice("7100001", make_ocr("7100001"), TOLVAN, Decimal("1874.00"), Decimal("0.00"),
                date(2024, 4, 30)),
        Invoice("7100002", make_ocr("7100002"), TOLVAN, Decimal("2359.00"), Decimal("1000.00"),
                date(2024, 5, 31)),
        Invoice("7100003", make_ocr("7100003"), TOLVAN, Decimal("612.50"), Decimal("612.50"),
                date(2024, 6, 30)),
    ]  # fmt: skip


@dataclass(frozen=True)
class Stored:
    order_number: int
    process: str
    xml: bytes


class SoapFault(Exception):
    def __init__(self, code: Literal["Client", "Server"], text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class UbwDouble:
    """UBW's QueryEngine and ImportService on ``host:port``, with seeded fictional invoices."""

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
    ) -> None:
        self.host, self.port = host, port
        self.username, self.client, self.template_id = username, client, template_id
        self._password = password
        self._seed = list(seed_invoices() if invoices is None else invoices)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._schemas = _Schemas()
        self._reset_state()

    def _reset_state(self) -> None:
        self._mode: Mode = "up"
        self._delay = 0.0
        self._times_left: int | None = None
        self._counts = dict.fromkeys(
            ("requests", "wsdl_requests", "queries", "duplicates", "faults", "connections"), 0
        )
        self._stored: dict[str, Stored] = {}
        self._invoices = {i.invoice_number: i for i in self._seed}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("UbwDouble is already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"ubw-double-{self.port}",
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (keep-alive ones too)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> UbwDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("UbwDouble is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The ``service.svc`` base the adapter's ``url`` option takes."""
        return self.base_url + SERVICE_PATH

    def wsdl_url(self, service: str) -> str:
        return f"{self.url}?{service}"

    # -- behaviour and observation ------------------------------------------------------------

    def set_mode(self, mode: str, delay: float = 0.0, times: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise ValueError("delay must be a number of seconds >= 0")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError("times must be a whole number >= 1")
        if times is not None and times < 1:
            raise ValueError("times must be a whole number >= 1")
        with self._lock:
            self._mode, self._delay, self._times_left = cast(Mode, mode), float(delay), times

    def stats(self) -> dict[str, object]:
        with self._lock:
            processes = [s.process for s in self._stored.values()]
            return {
                "mode": self._mode, "delay": self._delay, "times": self._times_left,
                **self._counts,
                "vouchers": processes.count("GL07"), "deferrals": processes.count("OHAR01"),
            }  # fmt: skip

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

    def reset(self) -> None:
        """Forget stored documents and counters, restore the seeded invoices, go back ``up``."""
        with self._lock:
            self._reset_state()

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        service = environ.get("QUERY_STRING", "").split("&")[0]
        if path == SERVICE_PATH and service in SERVICES:
            if method == "GET":
                self._count("wsdl_requests")
                return _answer(start_response, "200 OK", self._wsdl(service), "text/xml")
            if method == "POST":
                return self._soap(environ, start_response, service)
        if path == "/_stats" and method == "GET":
            return _answer(start_response, "200 OK", json.dumps(self.stats()).encode())
        if path == "/_reset" and method == "POST":
            self.reset()
            return _answer(start_response, "200 OK", json.dumps(self.stats()).encode())
        if path == "/_control" and method == "POST":
            return self._control(environ, start_response)
        return _answer(start_response, "404 Not Found", b'{"error": "not found"}')

    def _soap(
        self, environ: WSGIEnvironment, start_response: StartResponse, service: str
    ) -> Iterable[bytes]:
        body = environ["wsgi.input"].read()
        with self._lock:
            self._counts["requests"] += 1
            mode, delay = self._mode, self._delay
            if self._times_left is not None:
                self._times_left -= 1
                if self._times_left == 0:
                    self._mode, self._delay, self._times_left = "up", 0.0, None
        if mode == "down":
            environ["omsorgshub.drop_connection"]()
            return []
        if mode == "unavailable":
            return _answer(start_response, "503 Service Unavailable", b"", "text/html")
        if mode == "hostile":
            return _answer(start_response, "200 OK", _HOSTILE, "text/xml")
        if mode == "slow" and self._stopping.wait(delay):
            environ["omsorgshub.drop_connection"]()
            return []
        try:
            if mode == "fault":
                raise SoapFault("Server", "The server is busy; try again later (mode 'fault')")
            if mode == "reject":
                raise SoapFault("Client", "The request is refused (mode 'reject')")
            answer = self._operation(service, body)
        except SoapFault as fault:
            self._count("faults")
            return _answer(start_response, "500 Internal Server Error", _fault(fault), "text/xml")
        return _answer(start_response, "200 OK", _envelope(answer), "text/xml")

    def _operation(self, service: str, body: bytes) -> etree._Element:
        envelope = _parse(body, "the SOAP request")
        operation = envelope.find(f"{{{SOAP_ENV}}}Body/*")
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
        answer = _element(QUERY_NS, "GetTemplateResultAsXMLResponse")
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
            rows = [i for i in self._invoices.values() if _matches(i, wanted)]
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
            document = _parse(xml, "the ABWTransaction")
            self._schemas.check(
                "ubw-abwtransaction.xsd", document, "the ABWTransaction is not valid"
            )
            batch_id = self._check_vouchers(document)
            order, duplicate = self._store(batch_id, "GL07", xml, lambda: None)
        elif process == ("OHAR01", "OHAR01"):
            document = _parse(xml, "the ArDeferral")
            self._schemas.check("ubw-ar-deferral.xsd", document, "the ArDeferral is not valid")
            batch_id, apply = self._check_deferral(document)
            order, duplicate = self._store(batch_id, "OHAR01", xml, apply)
        else:
            raise SoapFault("Client", "unknown server process (this double runs GL07 and OHAR01)")
        answer = _element(IMPORT_NS, "ExecuteServerProcessAsynchronouslyResponse")
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

    # -- helpers ------------------------------------------------------------------------------

    def _wsdl(self, service: str) -> bytes:
        tree = etree.parse(str(SCHEMAS / "wsdl" / SERVICES[service][0]), _parser())
        for address in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
            address.set("location", self.wsdl_url(service))
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    def _control(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            command = json.loads(environ["wsgi.input"].read() or b"{}")
            if not isinstance(command, dict):
                raise ValueError("expected a JSON object")
            unknown = set(command) - {"mode", "delay", "times"}
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            self.set_mode(
                command.get("mode", "up"), command.get("delay", 0.0), command.get("times")
            )
        except ValueError as exc:
            body = json.dumps({"error": str(exc)}).encode()
            return _answer(start_response, "400 Bad Request", body)
        return _answer(start_response, "200 OK", json.dumps(self.stats()).encode())

    def _count(self, counter: str) -> None:
        with self._lock:
            self._counts[counter] += 1


def _matches(invoice: Invoice, wanted: dict[str, str]) -> bool:
    values = {
        "ext_inv_ref": invoice.invoice_number,
        "kid": invoice.ocr,
        "ext_apar_ref": invoice.payer,
    }
    return all(values[column] == value for column, value in wanted.items())


class _Schemas:
    """Compiled schemas (the WSDLs' inline ones and the import XSDs), used under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[str, etree.XMLSchema] = {}

    def check(self, name: str, element: etree._Element, problem: str) -> None:
        with self._lock:
            schema = self._compiled.get(name)
            if schema is None:
                schema = self._compiled[name] = _compile(name)
            if schema.validate(element):
                return
            first = schema.error_log[0] if schema.error_log else None  # type: ignore[index]
        line = f" (line {first.line})" if first is not None and first.line else ""
        raise SoapFault("Client", f"{problem}{line}")  # no values: they may be personal data


def _compile(name: str) -> etree.XMLSchema:
    if name.endswith(".wsdl"):
        wsdl = etree.parse(str(SCHEMAS / "wsdl" / name), _parser())
        inline = wsdl.find(f"{{{WSDL_NS}}}types/{{{XS_NS}}}schema")
        assert inline is not None, f"{name} has no inline schema"
        # Prefixes in type="tns:..." must stay declared: give the copy the WSDL's nsmap too.
        nsmap = {**wsdl.getroot().nsmap, **inline.nsmap}
        schema = etree.Element(inline.tag, attrib=dict(inline.attrib), nsmap=nsmap)
        schema.extend(copy.deepcopy(child) for child in inline)
        return etree.XMLSchema(schema)
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "xsd" / name), _parser()))


_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
    return parser


def _parse(data: bytes, what: str) -> etree._Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise SoapFault("Client", f"{what} is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SoapFault("Client", f"{what} has a DOCTYPE: no DTDs, no entities")
    return root


_HOSTILE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&xxe;</s:Body>'
    b"</s:Envelope>"
)


def _element(namespace: str, name: str) -> etree._Element:
    return etree.Element(f"{{{namespace}}}{name}", nsmap=cast("dict[str, str]", {None: namespace}))


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _fault(fault: SoapFault) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    node = etree.SubElement(
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault"
    )
    etree.SubElement(node, "faultcode").text = f"s:{fault.code}"
    etree.SubElement(node, "faultstring").text = fault.text
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _answer(
    start_response: StartResponse, status: str, body: bytes, content_type: str = "application/json"
) -> list[bytes]:
    if content_type == "text/xml":
        content_type = "text/xml; charset=utf-8"
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


# -- the HTTP/1.1 gateway ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], double: UbwDouble) -> None:
        self.double = double
        self._open: set[_Request] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Gateway)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup (HTTPServer does one)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: _Request, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self.double._count("connections")
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            connections = [c for c in self._open if isinstance(c, socket.socket)]
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: _Request, client_address: Any) -> None:
        pass  # a client that hung up (timeout, stop) is normal traffic for a double


class _Gateway(BaseHTTPRequestHandler):
    """Runs the double's WSGI app for each request, with keep-alive and Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "OmsorgshubUbwDouble/1"
    sys_version = ""
    timeout = 120

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._run()

    def do_POST(self) -> None:
        self._run()

    def _run(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES or "chunked" in self.headers.get(
            "Transfer-Encoding", ""
        ):
            self.send_error(413, "send a Content-Length up to 4 MiB")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        double = cast(_Server, self.server).double
        parts = urlsplit(self.path)
        dropped: list[bool] = []
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "PATH_INFO": unquote(parts.path),
            "QUERY_STRING": parts.query, "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": double.host, "SERVER_PORT": str(double.port),
            "SERVER_PROTOCOL": self.request_version, "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "omsorgshub.drop_connection": lambda: dropped.append(True),
        }  # fmt: skip
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answered: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            answered.append((status, headers))
            return lambda data: None

        try:
            payload = b"".join(double.app(environ, start_response))
        except Exception:  # a bug in the double: say so loudly, never as a SOAP answer
            traceback.print_exc()
            self.send_error(500, "the UBW double failed; see its stderr")
            self.close_connection = True
            return
        if dropped or not answered:
            self.close_connection = True  # no answer at all
            return
        status, headers = answered[0]
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.doubles.ubw_double",
        description="Run the UBW (Agresso) web-services double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--username", default="HUBWS")
    parser.add_argument("--client", default="SE10")
    parser.add_argument("--password", default="fiktivt-losenord")
    parser.add_argument("--template-id", type=int, default=4711)
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    double = UbwDouble(
        args.host, args.port, username=args.username, client=args.client,
        password=args.password, template_id=args.template_id,
    )  # fmt: skip
    double.start()
    print(double.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
