"""A local double of an SDK message service (DIGG's REST API, "sdk api 1.0.0"), for the tests,
the demo and the benchmarks.

A real HTTP/1.1 server (``adapters.doubles.wsgi_server``), in a thread or as its own process
with ``python -m adapters.doubles.sdk_double --port N`` (prints its API base URL, ``.../v1``).

The API (base path ``/v1``), each route behind an OAuth2 bearer token with its scope:

    POST   /v1/sdk/messages           urn:sdk.api:sendMessage        201, or 400 eventIssues
    GET    /v1/sdk/messages?filter[a.b]=v   urn:sdk.api:getMessageByFilter  (no documents)
    GET    /v1/sdk/messages/{id}      urn:sdk.api:getMessage         advances the life cycle
    DELETE /v1/sdk/messages/{id}      urn:sdk.api:deleteMessage      202, or 400 in transit

``POST /oauth2/token`` is the token endpoint (client credentials, ``client_id`` and
``client_secret`` as form fields or HTTP Basic, ``scope`` space-separated); tokens expire after
``token_lifetime`` seconds (``--token-lifetime``). A missing, unknown or expired token is 401,
a token without the route's scope 403. A request that breaks the API's schema or whose SDK
Meddelande v3 document breaks the message type's rules is 400 problem+json with
``eventIssues`` (``adapters.doubles.sdk_rules``). ``POST`` is idempotent on ``messageId``: the
same message again is 201 and stored once. The status life cycle and receipts are
``adapters.doubles.sdk_store``'s.

Controls (no token; answered in every mode), beside ``/_stats``, ``/_control`` (modes ``up``,
``down``, ``unavailable`` = 503, ``slow``, ``reject`` = 400 eventIssues) and ``/_reset``:

    POST /_sdk/receipts  {"outcome": "accept|reject|exchange_error|lose", "after": s}
    POST /_sdk/tokens    {"lifetime": s} and/or {"expire_all": true}
    POST /_sdk/inbox     {...attributes...}  a message from a district into an inbox
    GET  /_sdk/effects   {"effects": {messageId: [...]}, "messages": {messageId: {...}}}

Effects per message id: ``received``, ``duplicate``, ``refused``, ``status:<STATUS>``,
``placed``, ``deleted``. Memory only; feed it fictional data.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles.sdk_rules import RequestRefused, accepted_attributes
from adapters.doubles.sdk_store import (
    RECEIPT_OUTCOMES,
    SCOPES,
    ReceiptOutcome,
    SdkState,
)
from adapters.doubles.wsgi_server import (
    ServedDouble,
    answer,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)

API_PATH = "/v1"
MESSAGES_PATH = "/v1/sdk/messages"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path, not a password)
VERSION = "sdk api 1.0.0"
SEND_SCOPE = "urn:sdk.api:sendMessage"
CLIENT_ID = "omsorgshub"
# A fictional credential of the double, never of a real service.
CLIENT_SECRET = "double-secret-not-for-production"  # noqa: S105


class SdkDouble(ServedDouble):
    """An SDK message service on ``host:port`` (port 0 picks a free one)."""

    modes = ("up", "down", "unavailable", "slow", "reject")
    counters = ("unauthorized", "refused")
    path = API_PATH
    software = "OmsorgshubSdkDouble/1"
    max_body_bytes = 32 * 1024 * 1024

    _state: SdkState

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token_lifetime: float = 300.0,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self._token_lifetime = token_lifetime
        self._client = (client_id, client_secret)
        super().__init__(host, port)

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    # -- behaviour and observation from Python ------------------------------------------------

    def set_receipts(self, outcome: ReceiptOutcome, after: float = 0.0) -> None:
        if outcome not in RECEIPT_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(RECEIPT_OUTCOMES)}")
        if not after >= 0:
            raise ValueError("after must be a number of seconds >= 0")
        with self._lock:
            self._state.receipt_outcome, self._state.receipt_after = outcome, float(after)

    def set_tokens(self, *, lifetime: float | None = None, expire_all: bool = False) -> None:
        with self._lock:
            if lifetime is not None:
                self._state.token_lifetime = float(lifetime)
            if expire_all:
                self._state.expire_tokens()

    def place(self, attributes: dict[str, Any]) -> None:
        with self._lock:
            self._state.place(dict(attributes))

    def effects(self) -> dict[str, list[str]]:
        with self._lock:
            return {key: list(value) for key, value in self._state.effects.items()}

    def messages(self) -> dict[str, dict[str, Any]]:
        """Every message as stored, documents included (what a recipient would get)."""
        with self._lock:
            return {
                key: message.view(with_documents=True)["attributes"]
                for key, message in self._state.messages.items()
            }

    def documents(self) -> dict[str, bytes]:
        """The hub documents carried, by ``documentId``: each sent message's files, decoded."""
        found: dict[str, bytes] = {}
        for attributes in self.messages().values():
            for document in attributes.get("digitalDocument") or ():
                for file in document.get("contentFiles") or ():
                    found[document["documentId"]] = base64.b64decode(file["content"])
        return found

    def _observations(self) -> dict[str, object]:
        return {"messages": len(self._state.messages), "tokens_issued": self._state.issued}

    def _forget(self) -> None:
        self._state = SdkState(token_lifetime=self._token_lifetime)

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path.startswith("/_sdk/"):
            return self._sdk_control(method, path, environ, start_response)
        if (method, path) == ("POST", TOKEN_PATH):
            return self._token(environ, start_response)
        if path == MESSAGES_PATH and method in ("POST", "GET"):
            scope = SEND_SCOPE if method == "POST" else "urn:sdk.api:getMessageByFilter"
        elif path.startswith(MESSAGES_PATH + "/") and method in ("GET", "DELETE"):
            scope = "urn:sdk.api:getMessage" if method == "GET" else "urn:sdk.api:deleteMessage"
        else:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        mode = self._meet_mode()
        if mode == "unavailable":
            return json_answer(
                start_response, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable"},
                [("Retry-After", "1")],
            )  # fmt: skip
        denied = self._authorize(environ, scope, start_response)
        if denied is not None:
            return denied
        if method == "POST":
            return self._send(environ, start_response, mode)
        if path == MESSAGES_PATH:
            return self._list(environ, start_response)
        message_id = path.removeprefix(MESSAGES_PATH + "/")
        if method == "DELETE":
            with self._lock:
                why = self._state.delete(message_id)
            if why == "not found":
                return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": why})
            if why is not None:
                return _problem(start_response, [_issue("Message cannot be deleted", why)])
            return answer(start_response, HTTPStatus.ACCEPTED, "application/json", b"")
        return self._get(message_id, environ, start_response)

    def _send(
        self, environ: WSGIEnvironment, start_response: StartResponse, mode: str
    ) -> list[bytes]:
        body = request_body(environ)
        try:
            if mode == "reject":
                raise RequestRefused(
                    [_issue("Message refused by the service", "the double is set to reject")]
                )
            attributes = accepted_attributes(body)
        except RequestRefused as refused:
            self._count("refused")
            return _problem(start_response, refused.issues)
        with self._lock:
            existing = self._state.messages.get(attributes["messageId"])
            if existing is not None and _content(existing.attributes) != _content(attributes):
                self._state.record(attributes["messageId"], "refused")
                conflict = _issue("messageId is taken", "another message has this messageId")
                return _problem(start_response, [conflict])
            self._state.receive(attributes)
        location = f"{MESSAGES_PATH}/{attributes['messageId']}"
        return answer(start_response, HTTPStatus.CREATED, "application/json", b"",
                      [("Location", location)])  # fmt: skip

    def _get(
        self, message_id: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        with self._lock:
            message = self._state.read(message_id)
            view = message.view(with_documents=True) if message is not None else None
        if view is None:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        self_link = environ.get("wsgi.url_scheme", "http") + "://" + environ.get("HTTP_HOST", "")
        payload = {
            "meta": {"version": VERSION},
            "links": {"self": f"{self_link}{MESSAGES_PATH}/{message_id}"},
            "data": view,
        }
        return json_answer(start_response, HTTPStatus.OK, payload)

    def _list(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        filters: dict[str, str] = {}
        for key, values in query.items():
            if not (key.startswith("filter[") and key.endswith("]")):
                issue = _issue("Unknown query parameter", "use filter[attribute]=value", key)
                return _problem(start_response, [issue])
            filters[key[len("filter[") : -1]] = values[-1]
        with self._lock:
            found = [m.view(with_documents=False) for m in self._state.matching(filters)]
        payload = {"meta": {"version": VERSION}, "links": {"self": MESSAGES_PATH}, "data": found}
        return json_answer(start_response, HTTPStatus.OK, payload)

    # -- tokens -------------------------------------------------------------------------------

    def _token(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        form = {k: v[-1] for k, v in parse_qs(request_body(environ).decode("utf-8")).items()}
        client = (form.get("client_id", ""), form.get("client_secret", ""))
        basic = environ.get("HTTP_AUTHORIZATION", "")
        if basic.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                client = (user, secret)
            except (binascii.Error, UnicodeDecodeError):
                client = ("", "")
        if form.get("grant_type") != "client_credentials":
            return json_answer(
                start_response, HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"}
            )
        if client != self._client:
            self._count("unauthorized")
            return json_answer(start_response, HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"})
        scopes = frozenset(form.get("scope", " ".join(sorted(SCOPES))).split())
        if not scopes <= SCOPES:
            return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": "invalid_scope"})
        with self._lock:
            token, lifetime = self._state.issue(scopes)
        return json_answer(
            start_response,
            HTTPStatus.OK,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "scope": " ".join(sorted(scopes)),
            },
        )

    def _authorize(
        self, environ: WSGIEnvironment, scope: str, start_response: StartResponse
    ) -> list[bytes] | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        with self._lock:
            scopes = self._state.scopes_of(header[7:]) if header.startswith("Bearer ") else None
        if scopes is None:
            self._count("unauthorized")
            return json_answer(
                start_response, HTTPStatus.UNAUTHORIZED, {"error": "invalid_token"},
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )  # fmt: skip
        if scope not in scopes:
            return json_answer(
                start_response, HTTPStatus.FORBIDDEN, {"error": "insufficient_scope"},
                [("WWW-Authenticate", f'Bearer error="insufficient_scope", scope="{scope}"')],
            )  # fmt: skip
        return None

    # -- controls -----------------------------------------------------------------------------

    def _sdk_control(
        self, method: str, path: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        if (method, path) == ("GET", "/_sdk/effects"):
            return json_answer(
                start_response, HTTPStatus.OK,
                {"effects": self.effects(), "messages": self.messages()},
            )  # fmt: skip
        try:
            command = json.loads(request_body(environ) or b"{}")
            if not isinstance(command, dict):
                raise ValueError("expected a JSON object")
            if (method, path) == ("POST", "/_sdk/receipts"):
                self.set_receipts(command.get("outcome", "accept"), command.get("after", 0.0))
            elif (method, path) == ("POST", "/_sdk/tokens"):
                self.set_tokens(
                    lifetime=command.get("lifetime"), expire_all=command.get("expire_all") is True
                )
            elif (method, path) == ("POST", "/_sdk/inbox"):
                if not isinstance(command.get("messageId"), str):
                    raise ValueError("messageId is required")
                self.place(command)
            else:
                return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        except (ValueError, TypeError) as exc:
            return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        return json_answer(start_response, HTTPStatus.OK, self.stats())


def _content(attributes: dict[str, Any]) -> str:
    return json.dumps(attributes, sort_keys=True)


def _issue(title: str, detail: str, where: str = "request") -> dict[str, str]:
    return {"typeCode": "MESSAGE_EXCHANGE_ERROR", "title": title, "detail": detail, "in": where}


def _problem(start_response: StartResponse, issues: list[dict[str, str]]) -> list[bytes]:
    problem = {
        "type": "urn:problem-type:sdk:badRequest",
        "title": "Bad Request",
        "status": 400,
        "detail": "MESSAGE_EXCHANGE_ERROR",
        "instance": MESSAGES_PATH,
        "eventIssues": issues,
    }
    data = json.dumps(problem).encode()
    return answer(start_response, HTTPStatus.BAD_REQUEST, "application/problem+json", data)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.sdk_double", "Run the SDK message service double until SIGTERM."
    )
    parser.add_argument("--token-lifetime", type=float, default=300.0, help="seconds")
    parser.add_argument("--client-id", default=CLIENT_ID)
    parser.add_argument("--client-secret", default=CLIENT_SECRET)
    args = parser.parse_args(argv)
    double = SdkDouble(
        args.host,
        args.port,
        token_lifetime=args.token_lifetime,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    return run_until_signalled(double)


if __name__ == "__main__":
    raise SystemExit(main())
