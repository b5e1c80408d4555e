"""The settings of home care's compensation basis and follow-up (issue 13), declared beside
the model they are part of (``hub.settings.declared.DeclaredSettings`` inherits them, so they
are read, checked and documented as every other setting)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class HomeCareSettings(BaseSettings):
    compensation_sender: str = Field(
        default="pulsen-combine",
        description="The system identity a provider's compensation basis from Pulsen Combine "
        "is ingested as (`timereports compensation`); agreements name it as the sender of "
        "timereport.compensation_basis.",
    )
    compensation_purpose: str = Field(
        default="compensation",
        description="The purpose compensation bases are fetched from Combine and delivered to "
        "providers under.",
    )
    compensation_receivers: str = Field(
        default="",
        description="Which destination is each provider's own system, `PROVIDER=DESTINATION` "
        "entries separated by `;`: a provider's compensation basis goes there and nowhere else.",
    )
    timereport_late_days: int = Field(
        default=3,
        ge=0,
        le=365,
        description="A visit reported more than this many days after the day it took place "
        "counts as a late report in the follow-up (`stats followup`).",
    )
    stats_min_clients: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Aggregated statistics (continuity per provider or district) show figures "
        "only for groups of at least this many clients, so that no one can be singled out.",
    )
