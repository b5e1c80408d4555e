"""A local double of Pulsen Combine's visit import and compensation basis (designed API).

Combine's real API is not public: this double serves the plausible one designed in
``adapters.combine.adapter`` (read its docstring for the wire). It is a real HTTP/1.1 server
(``adapters.doubles.wsgi_server``); ``python -m adapters.doubles.combine_double --port N``
runs it as its own process and prints its base URL.

- ``POST /import/v1/visits``: checks the import (``combine_fees.check_import``: 422 with
  ``{"errors": [{"field", "code", "message"}]}``), de-duplicates on the ``Idempotency-Key``
  (201 once, then 200 with the same ``visitRef`` and ``"duplicate": true``), records the
  import; 409 ``period_closed`` for a visit in a month whose fee run was made final.
- ``GET /compensation/v1/{provider}/{month}``: the provider's compensation basis from the
  month's imported visits (``combine_fees.compensation_basis``: hours per client and
  intervention × a price per hour per intervention, ``--price CODE=KRONOR`` to change one);
  404 for a provider the double has neither been told of (``--provider``) nor imported for.
- Effects: ``GET /_combine/imports`` (every import by import id), ``POST /_combine/close``
  with ``{"month": "YYYY-MM"}`` (the fee run is final: later imports of that month are 409);
  plus the shared ``/_stats``, ``/_control`` (modes ``up``, ``down``, ``unavailable``,
  ``slow``, ``reject``) and ``/_reset``.

Keeps everything in memory; feed it fictional data.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles.combine_fees import (
    DEFAULT_PRICES,
    INTERVENTIONS,
    check_import,
    compensation_basis,
    visit_month,
)
from adapters.doubles.wsgi_server import (
    ServedDouble,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)

IMPORT_PATH = "/import/v1/visits"
BASIS_PATH = re.compile(r"^/compensation/v1/([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})/(\d{4}-\d{2})$")


class CombineDouble(ServedDouble):
    """Pulsen Combine's import and compensation basis on ``host:port`` (0: a free port)."""

    modes = ("up", "down", "unavailable", "slow", "reject")
    counters = ("duplicates", "refused")
    path = ""  # the adapter is given the base URL
    software = "OmsorgshubCombineDouble/1"

    _imports: dict[str, dict[str, object]]
    _refs: dict[str, str]
    _closed: set[str]
    _runs: dict[tuple[str, str], str]  # (run id, status) → when it was first made

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        prices: Mapping[str, Decimal] | None = None,
        providers: Iterable[str] = (),
    ) -> None:
        self._token = token
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self._providers = frozenset(providers)
        super().__init__(host, port)

    # -- observation --------------------------------------------------------------------------

    @property
    def imported(self) -> int:
        with self._lock:
            return len(self._imports)

    def imports(self) -> dict[str, dict[str, object]]:
        """Every import recorded, by import id (the hub's delivery id)."""
        with self._lock:
            return json.loads(json.dumps(self._imports))  # type: ignore[no-any-return]

    def close_month(self, month: str) -> None:
        with self._lock:
            self._closed.add(month)

    def basis(self, provider: str, month: str) -> dict[str, object]:
        """The month's fee run for ``provider``; the same imports give the same run (its id
        and the time it was first made)."""
        with self._lock:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            basis = compensation_basis(
                provider, month, self._imports, self.prices, ran_at=now,
                final=month in self._closed,
            )  # fmt: skip
            run = basis["feeRun"]
            assert isinstance(run, dict)
            run["ranAt"] = self._runs.setdefault((run["runId"], run["status"]), now)
            return basis

    def _observations(self) -> dict[str, object]:
        return {"imports": len(self._imports), "closed": sorted(self._closed)}

    def _forget(self) -> None:
        self._imports, self._refs, self._closed, self._runs = {}, {}, set(), {}

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if (method, path) == ("GET", "/_combine/imports"):
            return json_answer(start_response, HTTPStatus.OK, self.imports())
        if (method, path) == ("POST", "/_combine/close"):
            try:
                month = json.loads(request_body(environ))["month"]
            except (ValueError, KeyError, TypeError):
                return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": "month"})
            self.close_month(str(month))
            return json_answer(start_response, HTTPStatus.OK, {"closed": month})
        basis = BASIS_PATH.match(path)
        if path != IMPORT_PATH and basis is None:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        wanted = "POST" if basis is None else "GET"
        if method != wanted:
            return json_answer(
                start_response, HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"use {wanted}"},
                [("Allow", wanted)],
            )  # fmt: skip
        mode = self._meet_mode()
        if mode == "unavailable":
            return json_answer(
                start_response, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable"},
                [("Retry-After", "1")],
            )  # fmt: skip
        if not self._authorized(environ.get("HTTP_AUTHORIZATION")):
            return json_answer(
                start_response, HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"},
                [("WWW-Authenticate", "Bearer")],
            )  # fmt: skip
        if basis is not None:
            return self._basis(start_response, basis.group(1), basis.group(2))
        if mode == "reject":
            return self._refuse(start_response, ("", "rejected", "rejected on purpose"))
        return self._import(environ, start_response)

    def _import(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if not key:
            return self._refuse(start_response, ("", "idempotency_key", "key required"))
        try:
            data = json.loads(request_body(environ))
        except ValueError:
            return self._refuse(start_response, ("", "not_json", "the body is no JSON"))
        with self._lock:
            if key in self._imports:
                self._counts["duplicates"] += 1
                payload = {"importId": key, "visitRef": self._refs[key], "duplicate": True}
                return json_answer(start_response, HTTPStatus.OK, payload)
        problem = check_import(data, key)
        if problem is not None:
            return self._refuse(start_response, problem)
        with self._lock:
            if visit_month(data["visit"]) in self._closed:
                self._counts["refused"] += 1
                return json_answer(start_response, HTTPStatus.CONFLICT, {"code": "period_closed"})
            if key not in self._imports:
                self._imports[key] = data
                self._refs[key] = f"CMB-{len(self._refs) + 1:07d}"
            reference = self._refs[key]
        payload = {"importId": key, "visitRef": reference, "duplicate": False}
        return json_answer(start_response, HTTPStatus.CREATED, payload)

    def _basis(self, start_response: StartResponse, provider: str, month: str) -> list[bytes]:
        with self._lock:
            known = provider in self._providers or any(
                isinstance(d["visit"], dict) and d["visit"].get("providerId") == provider
                for d in self._imports.values()
            )
        if not known:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "no provider"})
        return json_answer(start_response, HTTPStatus.OK, self.basis(provider, month))

    def _refuse(self, start_response: StartResponse, problem: tuple[str, str, str]) -> list[bytes]:
        self._count("refused")
        field, code, message = problem
        errors = {"errors": [{"field": field, "code": code, "message": message}]}
        return json_answer(start_response, HTTPStatus.UNPROCESSABLE_ENTITY, errors)

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return hmac.compare_digest((header or "").encode(), expected)


def _price(text: str) -> tuple[str, Decimal]:
    code, _, value = text.partition("=")
    if code not in INTERVENTIONS:
        raise ValueError(f"unknown intervention {code!r}")
    try:
        return code, Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"{value!r} is no price") from None


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.combine_double",
        "Run the Pulsen Combine double (visit import, compensation basis) until SIGTERM.",
    )
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument(
        "--price", action="append", default=[], type=_price, metavar="CODE=KRONOR",
        help="price per hour of one intervention (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--provider", action="append", default=[], help="a provider Combine knows (repeatable)"
    )
    args = parser.parse_args(argv)
    double = CombineDouble(
        args.host, args.port, token=args.token, prices=dict(args.price), providers=args.provider
    )
    return run_until_signalled(double)


if __name__ == "__main__":
    raise SystemExit(main())
