"""UBW's SOAP on the double's side (``ubw_double``): parsing, schemas, answers and faults.

No SOAP library here: :func:`parse` reads a request or an embedded document with a hardened lxml
parser (no DTD, no entities, no network) and refuses any DOCTYPE; :class:`Schemas` checks an
element against a WSDL's inline schema or one of the import XSDs, naming at most the line of
the first error (never a value: values may be personal data); :func:`wsdl` serves a packaged
WSDL with its address pointing at the double; :func:`envelope` and :func:`fault_envelope` build
SOAP 1.1 answers, and ``HOSTILE`` is an answer with a DOCTYPE declaring an external entity (an
XXE attempt, for mode ``hostile``).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Literal, cast

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


class SoapFault(Exception):
    """A SOAP 1.1 fault to answer: ``code`` may be dotted (``Client.Validation``), ``prefix`` is
    the one its ``faultcode`` is written with (UBW's WCF services write ``s:``, other stacks
    ``soap:``; a client must understand both)."""

    def __init__(
        self,
        code: Literal["Client", "Client.Validation", "Server"],
        text: str,
        prefix: str = "s",
    ) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.prefix = prefix


class Schemas:
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
        definitions = etree.parse(str(SCHEMAS / "wsdl" / name), _parser())
        inline = definitions.find(f"{{{WSDL_NS}}}types/{{{XS_NS}}}schema")
        assert inline is not None, f"{name} has no inline schema"
        # Prefixes in type="tns:..." must stay declared: give the copy the WSDL's nsmap too.
        nsmap = {**definitions.getroot().nsmap, **inline.nsmap}
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


def parse(data: bytes, what: str) -> etree._Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise SoapFault("Client", f"{what} is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SoapFault("Client", f"{what} has a DOCTYPE: no DTDs, no entities")
    return root


HOSTILE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&xxe;</s:Body>'
    b"</s:Envelope>"
)


def element(namespace: str, name: str) -> etree._Element:
    return etree.Element(f"{{{namespace}}}{name}", nsmap=cast("dict[str, str]", {None: namespace}))


def envelope(payload: etree._Element) -> bytes:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    etree.SubElement(root, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fault_envelope(fault: SoapFault) -> bytes:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    node = etree.SubElement(etree.SubElement(root, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(
        node, "faultcode", nsmap={fault.prefix: SOAP_ENV}
    ).text = f"{fault.prefix}:{fault.code}"
    etree.SubElement(node, "faultstring").text = fault.text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def wsdl(file_name: str, address: str) -> bytes:
    """The packaged WSDL ``file_name`` with its ``soap:address`` set to ``address``."""
    tree = etree.parse(str(SCHEMAS / "wsdl" / file_name), _parser())
    for location in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        location.set("location", address)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
