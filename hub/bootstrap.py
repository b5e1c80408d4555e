"""The composition root: builds the whole hub from a frozen ``Settings``.

This is the only module that chooses concrete implementations (SQLAlchemy engine, key store,
agreement cache, audit trail, dispatcher). Everything else depends on what it is handed: the
pipeline, the delivery executor and the relay on the ports of ``hub.ports``, here filled with
the SQL store (``hub.storage.sql_store``) and the guards (``hub.guards``).
Building does no network I/O beyond opening the database engine lazily; ``start()`` starts the
embedded relay and worker threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from adapters.sdk.ids import sdk_message_id
from audit.signing import load_signer
from audit.timestamping import TimestampWitness
from audit.trail import AuditTrail
from audit.witness import FileWitness, SyslogWitness, Witness, parse_syslog_address
from contracts.cache import AgreementCache
from contracts.store import AgreementStore
from hub.atl.config import load_rule_sets
from hub.atl.hold import PaymentCheck
from hub.envelope import DeliveryState
from hub.guards import Guards
from hub.ingest.pipeline import Ingestor
from hub.ingest.routing import RoutingTable, load_routing
from hub.keys.crypto import Hmacs
from hub.keys.store import KeyStore, load_master_key
from hub.outbox.adapter_pool import AdapterPool
from hub.outbox.delivery import AttemptOutcome, DeliveryExecutor
from hub.outbox.dispatch import InProcessDispatcher
from hub.outbox.receipts import ReceiptChecker
from hub.outbox.relay import Relay
from hub.outbox.retry import RetryPolicy
from hub.ports import Dispatcher, MessageGuards
from hub.referrals.calendar import CallbackCalendar
from hub.referrals.follow_up import ReferralFollowUp
from hub.services.authentication import Authenticator
from hub.services.lookups import Lookups
from hub.settings import Settings
from hub.storage.engine import is_sqlite, make_engine, reader
from hub.storage.protected import ProtectedMarks
from hub.storage.sql_store import SqlMessages, SqlOutbox, SqlUnitOfWork
from hub.timereports.admission import VisitChecks
from hub.timereports.follow_up import BatchCounter, FollowUpChain
from hub.timereports.orders import OrderCache
from schemas.parser import ParseLimits
from schemas.registry import Registry, default_registry

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def audit_witnesses(settings: Settings) -> list[Witness]:
    """Where signed audit heads are kept outside the host, as configured."""
    witnesses: list[Witness] = []
    if settings.audit_witness_file is not None:
        witnesses.append(FileWitness(settings.audit_witness_file))
    if settings.audit_witness_syslog:
        witnesses.append(SyslogWitness(*parse_syslog_address(settings.audit_witness_syslog)))
    if settings.audit_tsa_url:
        witnesses.append(TimestampWitness(settings.audit_tsa_url, settings.audit_tsa_tokens_file))
    return witnesses


def retry_defaults(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_seconds=settings.retry_base_seconds,
        cap_seconds=settings.retry_cap_seconds,
        max_attempts=settings.retry_max_attempts,
        max_age_seconds=settings.retry_max_age_seconds,
    )


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    registry: Registry
    routing: RoutingTable
    guards: Guards
    message_guards: MessageGuards[Connection]  # what ingest and delivery consult (``guards``)
    agreement_store: AgreementStore
    ingestor: Ingestor[Connection]
    follow_up: ReferralFollowUp
    lookups: Lookups
    order_cache: OrderCache  # the case system's orders for time-report checks
    visit_checks: VisitChecks  # time reports' checks: every door (JSON, CSV, XML at ingest)
    executor: DeliveryExecutor[Connection]
    adapters: AdapterPool
    relay: Relay[Connection]
    dispatcher: Dispatcher
    authenticator: Authenticator
    clock: Callable[[], datetime]
    _threads: list[threading.Thread] = field(default_factory=list)
    _outcome_listeners: list[Callable[[AttemptOutcome], None]] = field(default_factory=list)
    payment_check: PaymentCheck | None = None  # the working-time check (hub.atl)

    @property
    def reader(self) -> Engine:
        return reader(self.engine)

    def on_outcome(self, listener: Callable[[AttemptOutcome], None]) -> None:
        """Be told of every delivery outcome in this process (the demo's summary uses it)."""
        self._outcome_listeners.append(listener)

    def start(self) -> None:
        """Start the relay (and with it the embedded delivery threads) in the background.

        First re-publishes audit checkpoints that were committed but not yet written to the
        checkpoint file (a crash between the two), then checks the audit head (a forged or cut
        head trips the integrity alarm: appends refuse until acknowledged).
        """
        with self.engine.begin() as conn:
            self.guards.audit.publish_missing(conn)
            self.guards.audit.check_head(conn)
        thread = threading.Thread(target=self.relay.run_forever, name="relay", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self.relay.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.dispatcher.close()
        self.adapters.close()
        self.engine.dispose()


def build_hub(
    settings: Settings,
    *,
    dispatcher: Dispatcher | None = None,
    clock: Callable[[], datetime] = utc_now,
    routing: RoutingTable | None = None,
) -> Hub:
    """Build the hub. Embedded mode gets an in-process dispatcher unless one is given."""
    engine = make_engine(
        settings.database_url,
        pool_size=max(5, settings.workers + 4),
        sqlite_cache_mib=settings.sqlite_cache_mib,
    )
    registry = default_registry()
    registry.warm_up()  # a broken XSD fails here, for every entry point (2–3 ms)
    routing = routing or load_routing(settings.routes_file, retry_defaults(settings))
    master = load_master_key(settings.master_key_file, settings.master_key or None)
    agreement_store = AgreementStore()
    guards = Guards(
        agreements=AgreementCache(agreement_store),
        protected=ProtectedMarks(),
        keys=KeyStore(master, clock=clock),
        hmacs=Hmacs(master.derive("hmac")),
        audit=AuditTrail(
            load_signer(settings.audit_private_key_file),
            settings.checkpoint_dir,
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_interval=settings.audit_checkpoint_seconds,
            clock=clock,
            witnesses=audit_witnesses(settings),
            anchor_within=settings.audit_tsa_max_failure_seconds
            if settings.audit_tsa_url
            else None,
        ),
        clock=clock,
    )
    message_guards = MessageGuards[Connection](agreements=guards, keys=guards, audit=guards)
    store = SqlUnitOfWork(engine)
    outbox = SqlOutbox(skip_locked=not is_sqlite(settings.database_url))
    messages = SqlMessages()
    adapters = AdapterPool(routing)
    listeners: list[Callable[[AttemptOutcome], None]] = []

    def outcome(o: AttemptOutcome) -> None:
        for listener in listeners:
            listener(o)

    executor = DeliveryExecutor(
        store=store,
        deliveries=outbox,
        routing=routing,
        adapters=adapters,
        guards=message_guards,
        clock=clock,
        on_outcome=outcome,
    )
    if dispatcher is None:
        dispatcher = InProcessDispatcher(executor.execute, settings.workers)
    receipts = ReceiptChecker(
        store=store,
        waits=outbox,
        routing=routing,
        adapters=adapters.get,
        audit=message_guards.audit,
        clock=clock,
        lease_seconds=settings.lease_seconds,
        batch=settings.relay_batch,
        on_outcome=outcome,
    )
    listeners.append(
        lambda o: receipts.wake() if o.state is DeliveryState.AWAITING_RECEIPT else None
    )
    relay = Relay(
        receipts=receipts.run_once,
        store=store,
        outbox=outbox,
        dispatcher=dispatcher,
        audit=guards.audit,
        clock=clock,
        lease_seconds=settings.lease_seconds,
        batch=settings.relay_batch,
        interval=settings.relay_interval,
        gather=settings.relay_gather_seconds,
    )
    if isinstance(dispatcher, InProcessDispatcher):
        dispatcher.set_on_done(relay.capacity_freed)
    follow_up = ReferralFollowUp(
        CallbackCalendar(
            time_zone=settings.time_zone, working_days=settings.referral_callback_working_days
        ),
        answer_id=sdk_message_id,  # what a district's SDK reply refers to
    )
    payment_check = PaymentCheck(
        load_rule_sets(settings.atl_rules_dir), message_guards.keys, message_guards.audit, clock
    )
    lookups = Lookups(engine=engine, routing=routing, adapters=adapters, guards=guards, clock=clock)
    order_cache = OrderCache(settings.timereport_order_cache_seconds)
    visit_checks = VisitChecks(
        settings=settings,
        engine=engine,
        guards=guards,
        lookups=lookups,
        order_cache=order_cache,
        clock=clock,
    )
    ingestor = Ingestor(
        store=store,
        messages=messages,
        repeats=messages,
        registry=registry,
        routing=routing,
        limits=ParseLimits(max_bytes=settings.max_message_bytes, max_depth=settings.max_xml_depth),
        guards=message_guards,
        hmacs=guards.hmacs,
        clock=clock,
        on_stored=relay.wake,
        commit_wait_seconds=settings.ingest_commit_wait_seconds,
        commit_gather_seconds=settings.ingest_commit_gather_seconds,
        follow_ups=FollowUpChain(
            follow_up, BatchCounter(clock, settings.timereport_manual_share), payment_check
        ),
        admissions={"time_report": visit_checks},  # the names types declare (schemas/)
    )
    return Hub(
        settings=settings,
        engine=engine,
        registry=registry,
        routing=routing,
        guards=guards,
        message_guards=message_guards,
        agreement_store=agreement_store,
        ingestor=ingestor,
        follow_up=follow_up,
        lookups=lookups,
        order_cache=order_cache,
        visit_checks=visit_checks,
        executor=executor,
        adapters=adapters,
        relay=relay,
        dispatcher=dispatcher,
        authenticator=Authenticator(reader(engine), clock=clock),
        clock=clock,
        _outcome_listeners=listeners,
        payment_check=payment_check,
    )
