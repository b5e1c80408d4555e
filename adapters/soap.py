"""What every SOAP adapter here shares: hardened zeep settings and a transport that keeps
messages out of the log.

zeep's defaults parse DTDs (``forbid_dtd=False``) and its transport logs every request and
response in full at DEBUG level (``zeep.transports``): for the hub's messages that is personal
data and, for UBW, a password in the body. Both adapters build their clients from these two.
"""

from __future__ import annotations

import requests
import zeep


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
