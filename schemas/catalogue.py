"""The message types this release of the hub accepts: the table ``default_registry`` is made
of. A plain, reviewed list, not a scan of the ``xsd/`` folder: adding a type is a change here
(with its XSD in ``xsd/``, its data categories, where its body names persons and its business
keys), kept apart from the registry's machinery so that each reads as what it is.
"""

from __future__ import annotations

from schemas.business_keys import BusinessKey
from schemas.message_type import MessageType
from schemas.subjects import SubjectPath

MESSAGE_TYPES: tuple[MessageType, ...] = (
    MessageType(
        name="case.referral",
        version="1",
        xsd="case.referral-1.xsd",
        root="{urn:omsorgshub:case.referral:1}CaseReferral",
        categories=frozenset({"identity", "contact", "case"}),
        subjects=(SubjectPath("DataSubject/IdentityNumber", scheme_attribute="scheme"),),
        keys=(
            BusinessKey("case_id", "CaseId"),
            BusinessKey("urgency", "Urgency", protected=False),
            BusinessKey("affected_unit", "AffectedUnit/@id", protected=False),
            BusinessKey("registered_at", "RegisteredAt", protected=False),
            # Closed enumerations and a unit's code, for statistics and chargeback.
            BusinessKey("main_category", "MainCategory", protected=False),
            BusinessKey("case_type", "CaseType", protected=False),
            BusinessKey("case_class", "CaseClass", protected=False),
            BusinessKey("ordering_unit", "OrderingUnit", protected=False),
        ),
        description=(
            "A contact-centre case (Äldre direkt) referred to a city district: "
            "category, type, class, affected unit, urgency, callback wish and the person."
        ),
    ),
    MessageType(
        name="timereport.visit",
        version="1",
        xsd="timereport.visit-1.xsd",
        root="{urn:omsorgshub:timereport.visit:1}Visit",
        categories=frozenset({"identity", "time"}),
        subjects=(SubjectPath("Client", scheme_attribute="scheme"),),
        description=(
            "One home-care visit from a provider's time app: planned and actual times, "
            "confirmation at the client's home, the provider's approval, interventions."
        ),
    ),
    MessageType(
        name="timereport.assistance_shift",
        version="1",
        xsd="timereport.assistance_shift-1.xsd",
        root="{urn:omsorgshub:timereport.assistance_shift:1}AssistanceShifts",
        categories=frozenset({"identity", "time"}),
        subjects=(SubjectPath("Client"),),
        # The assistant's employee id identifies a person: an HMAC. The provider is an
        # organisation, the month and the rule set's name identify no one: plain.
        keys=(
            BusinessKey("assistant", "AssistantId"),
            BusinessKey("client", "Client"),
            BusinessKey("provider", "Provider", protected=False),
            BusinessKey("period", "Period", protected=False),
            BusinessKey("rule_set", "RuleSet", protected=False),
        ),
        description=(
            "One personal assistant's shifts with one client in a month (start, end, "
            "breaks, ordinary, overtime, on-call or standby), the provider employing "
            "them and the rule set (law or collective agreement) they work under."
        ),
    ),
    MessageType(
        name="timereport.visit",
        version="2",
        xsd="timereport.visit-2.xsd",
        root="{urn:omsorgshub:timereport.visit:2}Visit",
        categories=frozenset({"identity", "time"}),
        subjects=(SubjectPath("Client", scheme_attribute="scheme"),),
        # Continuity statistics and overlap checks read these, never the payload.
        keys=(
            BusinessKey("provider", "ProviderId", protected=False),
            BusinessKey("staff_id", "StaffId"),
            BusinessKey("second_staff_id", "SecondStaffId"),
            BusinessKey("visit_date", "VisitDate", protected=False),
            BusinessKey("order_id", "OrderId"),
            BusinessKey("batch_id", "BatchId", protected=False),
            BusinessKey("actual_start", "ActualStart", protected=False),
            BusinessKey("actual_end", "ActualEnd", protected=False),
            # a closed enumeration: the batch's share of manual confirmations counts it
            BusinessKey("confirmation", "ConfirmationMethod", protected=False),
        ),
        held_for_approval=True,  # forwarded once the provider approves the batch
        admission="time_report",  # an XML sender meets the JSON and CSV senders' checks
        description=(
            "Version 1 as one contract for any provider's app (JSON, CSV or XML): the "
            "batch, order, staff ids (never identity numbers), double staffing, "
            "confirmation by tag, lock or code, and the local visit date."
        ),
    ),
    MessageType(
        name="timereport.compensation_basis",
        version="1",
        xsd="timereport.compensation_basis-1.xsd",
        root="{urn:omsorgshub:timereport.compensation_basis:1}CompensationBasis",
        categories=frozenset({"identity", "time", "fees"}),
        subjects=(SubjectPath("Lines/Line/Client", scheme_attribute="scheme"),),
        keys=(
            BusinessKey("provider", "ProviderId", protected=False),
            BusinessKey("month", "Month", protected=False),
            BusinessKey("fee_run", "FeeRun/@id", protected=False),
        ),
        description=(
            "A home-care provider's compensation basis for a month from Pulsen "
            "Combine's fee run: minutes, price and amount per client and intervention."
        ),
    ),
    MessageType(
        name="case.execution_event",
        version="1",
        xsd="case.execution_event-1.xsd",
        root="{urn:omsorgshub:case.execution_event:1}ExecutionEvent",
        categories=frozenset({"identity", "case", "decisions"}),
        subjects=(SubjectPath("Subject", scheme_attribute="scheme"),),
        keys=(BusinessKey("decision_id", "DecisionId"),),
        description=(
            "A decision executed, interrupted, resumed or closed (SoL/LSS), with dates: "
            "what the IVO report of decisions not executed within three months needs."
        ),
    ),
    MessageType(
        name="case.execution_event",
        version="2",
        xsd="case.execution_event-2.xsd",
        root="{urn:omsorgshub:case.execution_event:2}ExecutionEvent",
        categories=frozenset({"identity", "case", "decisions"}),
        subjects=(SubjectPath("Subject", scheme_attribute="scheme"),),
        # ReferralCaseId names the contact centre's case: it closes that referral.
        keys=(
            BusinessKey("decision_id", "DecisionId"),
            BusinessKey("answers_referral", "ReferralCaseId"),
        ),
        description=(
            "Version 1 with what IVO reporting needs: decided, partly executed and "
            "declined offers, the intervention, delay reasons, consequences, interim "
            "measures, protected identity, gender and the referral that led to it."
        ),
    ),
    MessageType(
        name="finance.payment",
        version="1",
        xsd="finance.payment-1.xsd",
        root="{urn:omsorgshub:finance.payment:1}PaymentVoucher",
        categories=frozenset({"identity", "decisions", "fees"}),
        subjects=(SubjectPath("Client"), SubjectPath("Recipient/Person")),
        # The period's dates (no one identified by them): the ATL check (hub/atl) finds
        # the assistants' shifts of the voucher's period by them.
        keys=(
            BusinessKey("period_from", "Period/From", protected=False),
            BusinessKey("period_to", "Period/To", protected=False),
            # The case system's voucher and decision: an operator finds a payment by them.
            BusinessKey("voucher_id", "VoucherId"),
            BusinessKey("decision_id", "DecisionId"),
        ),
        description=(
            "A personal-assistance compensation payment voucher from the case system "
            "to the finance system (Lifecare → Unit4 Business World)."
        ),
    ),
    MessageType(
        name="mailbox.message",
        version="1",
        xsd="mailbox.message-1.xsd",
        root="{urn:omsorgshub:mailbox.message:1}MailboxMessage",
        categories=frozenset({"identity", "case"}),
        subjects=(SubjectPath("Subject"),),
        # SDK ids are UUIDs the message service assigned or the hub derived from its
        # own delivery ids (stored plain beside them): plain, like those ids.
        keys=(
            BusinessKey("sdk_message_id", "SdkMessageId", protected=False),
            BusinessKey("sdk_conversation_id", "ConversationId", protected=False),
            BusinessKey("sdk_ref_to_message_id", "RefToMessageId", protected=False),
        ),
        description=(
            "A message that arrived in one of the hub's functional mailboxes over SDK "
            "(e.g. a district's answer to a referral): SDK ids, parties, subject line, "
            "the persons it names, text bodies and attachments."
        ),
    ),
    MessageType(
        name="finance.deferral",
        version="1",
        xsd="finance.deferral-1.xsd",
        root="{urn:omsorgshub:finance.deferral:1}PaymentDeferral",
        categories=frozenset({"identity", "invoices"}),
        subjects=(SubjectPath("Payer"),),
        # The invoice a person asks about, by number or OCR reference: keyed HMACs.
        keys=(
            BusinessKey("invoice_number", "InvoiceNumber"),
            BusinessKey("ocr", "Ocr"),
        ),
        description=(
            "A payment deferral (anstånd) of at most 30 days on a care-fee invoice, "
            "granted by the contact centre."
        ),
    ),
    MessageType(
        name="care.communication",
        version="1",
        xsd="care.communication-1.xsd",
        root="{urn:omsorgshub:care.communication:1}CareCommunication",
        categories=frozenset({"identity", "contact", "health"}),
        subjects=(SubjectPath("Patient/IdentityNumber", scheme="dk", scheme_attribute="scheme"),),
        description=(
            "A MedCom CareCommunication (Denmark) in the hub's neutral form: sender and "
            "receiver by SOR and EAN, the patient by CPR, category, topic, texts and "
            "attachments with their authors (schemas/medcom maps it to and from FHIR)."
        ),
    ),
    MessageType(
        name="ivo.individual_report",
        version="1",
        xsd="ivo.individual_report-1.xsd",
        root="{urn:omsorgshub:ivo.individual_report:1}IndividualReport",
        categories=frozenset({"pseudonym", "case", "decisions", "health"}),
        pseudonymous=True,
        description=(
            "One individual report to IVO of a decision not executed within three "
            "months (or executed, or closed): the person as IVO's code, never a number."
        ),
    ),
)
