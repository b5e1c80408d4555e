"""The demo's IVO e-service: its double on 127.0.0.1 and the destination the robot delivers to.

For ``omsorgshub demo`` and ``bench/`` (the IVO reporting flow): :func:`start_ivo_double`
starts ``adapters.doubles.ivo_double`` in this process, :func:`ivo_destination` is the routing
table's destination for it (adapter ``ivo``). The robot reads its password from the environment
variable the destination names, as in production; the demo's made-up password is put there.
"""

from __future__ import annotations

import os

from adapters.doubles.ivo_double import IvoDouble
from hub.demo.sandbox import DestinationSpec

IVO_DESTINATION = "ivo-eservice"
IVO_USER = "demo-robot"
IVO_PASSWORD = "demo-ivo-losen-fiktivt"  # noqa: S105  # the demo double's made-up password
IVO_PASSWORD_ENV = "DEMO_IVO_ESERVICE_PASSWORD"  # noqa: S105  # a variable name
IVO_MUNICIPALITY = "Exempelstad kommun"  # what hub.demo.ivo_reports writes in its reports


def start_ivo_double(*, session_seconds: float = 900.0) -> IvoDouble:
    """IVO's e-service double, started on a free 127.0.0.1 port (stop it when done)."""
    double = IvoDouble(
        user=IVO_USER, password=IVO_PASSWORD, municipality=IVO_MUNICIPALITY,
        session_seconds=session_seconds,
    )  # fmt: skip
    double.start()
    return double


def ivo_destination(double: IvoDouble, *, max_attempts: int = 5) -> DestinationSpec:
    """The destination for ``double``; sets the password's environment variable if unset."""
    os.environ.setdefault(IVO_PASSWORD_ENV, IVO_PASSWORD)
    return DestinationSpec(
        "ivo",
        {"url": double.url, "username": IVO_USER, "password_env": IVO_PASSWORD_ENV, "timeout": 10},
        {"base_seconds": 1.0, "cap_seconds": 30.0, "max_attempts": max_attempts},
    )
