"""The settings of the hub's capabilities beyond the message path — referral follow-up, IVO
reporting, time reports, working-time rules, home care's compensation and follow-up, the
console's people — declared apart from the core settings (``hub.settings.declared``) so that
neither module grows past what a reader takes in at once.

``DeclaredSettings`` inherits these fields: one model, one set of sources and validators, one
catalogue (``SETTINGS``) and one generated docs/CONFIGURATION.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings


class CapabilitySettings(BaseSettings):
    """Fields only: the model configuration, sources and validators live on
    ``DeclaredSettings``."""

    referral_callback_working_days: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Working days a district has to call back on a referral that is not "
        "urgent (urgent: the same day), counted in time_zone from the day after the hub "
        "received it; weekends and Swedish public and de facto holidays do not count.",
    )

    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="The relay runs the retention job (every payload past its agreement's "
        "retention_days shredded, legal holds respected) every this many seconds; 0: off "
        "(`omsorgshub retention run` runs it anyway). Safe with several hubs at once.",
    )
    retention_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Payloads the retention job shreds per transaction, each batch with one "
        "audit entry (district, agreement, categories, count, id range, rule).",
    )

    protected_sync_interval_seconds: float = Field(
        default=900.0,
        ge=0,
        description="The relay asks each district's case system (routed for "
        "lookup.client_summary) for its whole list of persons with protected identity every "
        "this many seconds and keeps the hub's marks in step: new marks recorded, marks no "
        "longer listed lifted, a district whose case system fails kept as it was and asked "
        "again next time; 0: off (`omsorgshub protected sync` runs it anyway).",
    )

    ivo_purpose: str = Field(
        default="ivo_reporting",
        description="The purpose IVO reporting runs under: an execution event is tracked, and "
        "a report built or submitted, only where an agreement of its district allows it.",
    )
    ivo_sender: str = Field(
        default="omsorgshub",
        description="The hub's own system identity: the sender of the ivo.individual_report "
        "messages `ivo submit` sends through the hub's ingest (agreements name it as sender).",
    )
    ivo_period_months: int = Field(
        default=3,
        ge=1,
        le=24,
        description="Months after a decision (or an interruption) without execution before it "
        "is reported to IVO (SoL/LSS: three).",
    )
    ivo_legal_references: str = Field(
        default="SoL=4 kap. 1 § socialtjänstlagen (2001:453); "
        "SoL@2025-07-01=socialtjänstlagen (2025:400); "
        "LSS=9 § lagen (1993:387) om stöd och service till vissa funktionshindrade",
        description="The legal references shown on IVO reports, `LAW[@FROM]=TEXT` entries "
        "separated by `;`: an entry applies to decisions made on or after FROM, the newest wins "
        "(SoL was replaced on 1 July 2025; paragraph numbers change).",
    )
    ivo_municipality: str = Field(
        default="",
        description="The municipality that reports to IVO, as the e-service names it, e.g. "
        "Helsingborgs kommun. Needed by `ivo report` and `ivo submit`.",
    )
    ivo_administrations: str = Field(
        default="",
        description="The committee or administration that reports for each district, "
        "`DISTRICT=NAME` entries separated by `;` (`*=NAME` for every other district), e.g. "
        "`*=Vård- och omsorgsnämnden`. Needed by `ivo report` and `ivo submit`.",
    )
    ivo_intervention_map: str = Field(
        default="",
        description="The case system's service codes (GetClientSummary) to IVO's kinds of "
        "intervention, `[LAW:]CODE=KIND` entries separated by `;`, e.g. "
        "`SoL:home_care=sol_home_care; LSS:personal_assistance=lss_personal_assistance`. "
        "A code not named here is never guessed: the worklist lists it as missing.",
    )
    ivo_track_seconds: float = Field(
        default=0.0,
        ge=0,
        description="`serve` runs the IVO tracking (new execution events, then the case "
        "system's summaries) every this many seconds; 0: off (`ivo track|report|submit` run it "
        "anyway). Safe with several hubs at once.",
    )

    timereport_purpose: str = Field(
        default="time_reporting",
        description="The purpose time reports are sent and checked under: agreements of the "
        "district must allow the provider's system to send timereport.visit and to ask "
        "lookup.client_summary (the order check) for it.",
    )
    timereport_lock_day: int = Field(
        default=5,
        ge=1,
        le=28,
        description="The day of the following month a month's time locks on (spärrdatum, at "
        "00:00 in time_zone): later visits of that month are refused until an officer runs "
        "`timereports reopen`. A provider's own lock day (`timereports provider`) overrides it.",
    )
    timereport_reopen_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Days a period stays open after `timereports reopen`.",
    )
    timereport_manual_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of a batch's visits confirmed by hand above which the batch gets the "
        "warning manual_share_high (recorded with the batch; the batch is not refused).",
    )
    timereport_order_cache_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="Seconds a client's orders from the case system are reused by the "
        "time-report checks before the case system is asked again.",
    )
    timereport_max_batch: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most visits in one time-report batch (JSON or CSV).",
    )

    console_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="Minutes without a request after which a console session ends (sign in again).",
    )
    console_absolute_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="Hours after signing in at which a console session ends however active it is.",
    )
    console_secure_cookie: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="The console's cookies carry `Secure` (sent over TLS only): `auto` when the "
        "request came over https (a TLS proxy on 127.0.0.1 says so with `X-Forwarded-Proto`; "
        "uvicorn trusts other proxy addresses listed in `FORWARDED_ALLOW_IPS`), `always`, or "
        "`never`.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Wrong passwords in a row that lock a console account for "
        "`login_lockout_seconds`, doubled at each further lockout (at most a day).",
    )
    login_address_max_failures: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Wrong passwords in a row from one client address, whatever the account, "
        "that lock that address the same way (a municipality's shared address needs room).",
    )
    login_lockout_seconds: int = Field(
        default=60,
        ge=1,
        le=24 * 3600,
        description="The first lockout after too many wrong passwords; each further one doubles.",
    )
    console_refresh_seconds: int = Field(
        default=15,
        ge=2,
        le=3600,
        description="Seconds between refreshes of the console's message counts per destination "
        "and state (a meta refresh: no script).",
    )
    atl_rules_dir: str = Field(
        default="",
        description="Directory of working-time rule sets, one strict TOML file per collective "
        "agreement (examples in docs/examples/atl/), added to the statutory sets the hub "
        "ships (atl-1982-673, husligt-1970-943; a file of the same name replaces one). Empty: "
        "the statutory sets only.",
    )
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

    review_office_start_hour: int = Field(
        default=7,
        ge=0,
        le=23,
        description="Log review (`review sample`): office hours begin at this hour (time_zone); "
        "an access before it, or on a day that is no working day, is picked as `off_hours`.",
    )
    review_office_end_hour: int = Field(
        default=18,
        ge=1,
        le=23,
        description="Log review: office hours end at this hour (time_zone, exclusive); an "
        "access from then on is picked as `off_hours`.",
    )
    review_burst_lookups: int = Field(
        default=30,
        ge=2,
        le=100_000,
        description="Log review: this many lookups (queried, viewed) by one actor within "
        "review_burst_minutes are picked as a `burst`.",
    )
    review_burst_minutes: float = Field(
        default=10.0,
        gt=0,
        le=1440,
        description="Log review: the window of the `burst` rule, in minutes.",
    )
    review_referral_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 31,
        description="Log review: a lookup of a person after which the district received no "
        "referral about that person within this many hours is picked as `no_referral`.",
    )
    review_random_size: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="Log review: accesses drawn at random, beside the rules' picks, when "
        "`review sample` is not given --random.",
    )
    alert_dead_letters_minutes: int = Field(
        default=60,
        ge=1,
        le=7 * 24 * 60,
        description="The window of the dead-letters alert: deliveries that became dead in the "
        "last N minutes are compared with the N minutes before.",
    )
    alert_dead_letters_min: int = Field(
        default=5,
        ge=1,
        le=1_000_000,
        description="Dead letters rising: at least this many deliveries became dead in the last "
        "`alert_dead_letters_minutes`, and more than in the window before (console overview).",
    )
    alert_destination_down_minutes: int = Field(
        default=15,
        ge=1,
        le=7 * 24 * 60,
        description="A destination stays down: deliveries to it have been retrying for at least "
        "this many minutes and none was delivered in that time (console overview).",
    )
    alert_checkpoint_overdue_seconds: int = Field(
        default=300,
        ge=1,
        le=7 * 24 * 3600,
        description="An audit checkpoint is overdue: entries are waiting to be signed into a "
        "checkpoint and the last one is older than this (the relay makes one every "
        "`audit_checkpoint_seconds` while it runs; console overview).",
    )
    chargeback_call_prices: str = Field(
        default="2022-01-01=68.50",
        description="The contact centre's price per call in SEK, charged to the ordering unit "
        "a case belongs to (seed 001: 68.50 in 2022), `YYYY-MM-DD=PRICE` entries separated by "
        "`;`: each applies from its day until the next entry's. `stats chargeback` prices each "
        "referral by the day the hub received it, so a past month comes out the same.",
    )
    chargeback_yearly_fees: str = Field(
        default="",
        description="Each district's fixed yearly fee in SEK (the total was 8,825,000 in 2022, "
        "shared by the districts' key), `DISTRICT@YYYY-MM-DD=AMOUNT` entries separated by `;`, "
        "each applying from its day; a month's invoice basis carries a twelfth of the fee in "
        "force on its first day.",
    )
