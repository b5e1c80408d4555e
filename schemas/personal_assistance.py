"""The message type of personal assistants' time (issue 13, the working-time check ``hub.atl``),
declared beside the registry (which lists it) to keep that module short."""

from __future__ import annotations

from schemas.business_keys import BusinessKey
from schemas.message_type import MessageType
from schemas.subjects import SubjectPath

ASSISTANCE_SHIFT = MessageType(
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
)
