"""The demo's doubles of the external systems, started together on 127.0.0.1.

The districts' case system (SOAP, one ``CaseManagementDouble`` behind every ``case-*``
destination), Pulsen Combine (``CombineDouble``), Unit4 Business World (``UbwDouble``) and
an SDK message service (``SdkDouble``, ``hub.demo.sdk_step``);
``Doubles.saw`` tells what each stored, once per idempotency key, for the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.doubles.case_management_double import CaseManagementDouble
from adapters.doubles.combine_double import CombineDouble
from adapters.doubles.sdk_double import SdkDouble
from adapters.doubles.ubw_double import UbwDouble
from hub.demo.scenario import FINANCE, TIMEREPORTS, case_destination

UBW_PASSWORD = "demo-losenord-fiktivt"  # noqa: S105  # the demo double's made-up password


@dataclass(frozen=True)
class Doubles:
    case: CaseManagementDouble
    combine: CombineDouble
    ubw: UbwDouble
    sdk: SdkDouble

    def saw(self, destination: str) -> int:
        """What the destination's double stored, once per idempotency key."""
        if destination == TIMEREPORTS:
            return self.combine.imported
        if destination == FINANCE:
            stats = self.ubw.stats()
            counts = [stats["vouchers"], stats["deferrals"]]
            return sum(n for n in counts if isinstance(n, int))
        stored = [*self.case.referrals().values(), *self.case.execution_events().values()]
        return sum(1 for s in stored if case_destination(s.logical_address) == destination)

    def stop(self) -> None:
        for double in (self.case, self.combine, self.ubw, self.sdk):
            double.stop()


def start_doubles() -> Doubles:
    """Start the case system, Combine, UBW and SDK doubles on free 127.0.0.1 ports (all or
    none)."""
    case, combine, ubw = CaseManagementDouble(), CombineDouble(), UbwDouble(password=UBW_PASSWORD)
    sdk = SdkDouble()
    started: list[Any] = []
    try:
        for double in (case, combine, ubw, sdk):
            double.start()
            started.append(double)
    except BaseException:
        for double in started:
            double.stop()
        raise
    return Doubles(case, combine, ubw, sdk)
