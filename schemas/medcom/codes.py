"""The canonical URLs, code systems and codes of MedCom's messaging that the hub uses."""

from __future__ import annotations

IG = "http://medcomfhir.dk/ig"
TERMINOLOGY = f"{IG}/terminology/CodeSystem"

# -- profiles (meta.profile) --------------------------------------------------------------------
CC = f"{IG}/carecommunication/StructureDefinition"
PROFILE_CC_MESSAGE = f"{CC}/medcom-careCommunication-message"
PROFILE_CC_HEADER = f"{CC}/medcom-careCommunication-messageHeader"
PROFILE_CC_COMMUNICATION = f"{CC}/medcom-careCommunication-communication"
PROFILE_CC_PROVENANCE = f"{CC}/medcom-careCommunication-provenance"
PROFILE_ORGANIZATION = f"{IG}/messaging/StructureDefinition/medcom-messaging-organization"
PROFILE_PATIENT = f"{IG}/core/StructureDefinition/medcom-core-patient"
PROFILE_PRACTITIONER = f"{IG}/core/StructureDefinition/medcom-core-practitioner"
PROFILE_PRACTITIONER_ROLE = f"{IG}/core/StructureDefinition/medcom-core-practitionerrole"
ACK = f"{IG}/acknowledgement/StructureDefinition"
PROFILE_ACK_MESSAGE = f"{ACK}/medcom-acknowledgement-message"
PROFILE_ACK_HEADER = f"{ACK}/medcom-acknowledgement-messageHeader"
PROFILE_ACK_OUTCOME = f"{ACK}/medcom-acknowledgement-operationoutcome"
PROFILE_MESSAGING_PROVENANCE = f"{IG}/messaging/StructureDefinition/medcom-messaging-provenance"

CC_DEFINITION = f"{IG}/carecommunication/medcom-careCommunication-message-definition|5.0.0"
ACK_DEFINITION = f"{IG}/acknowledgement/medcom-acknowledgement-message-definition|3.0.0"

# -- identifiers ----------------------------------------------------------------------------------
SOR = "urn:oid:1.2.208.176.1.1"
EAN = "https://www.gs1.org/gln"
CPR = "urn:oid:1.2.208.176.1.2"
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="

# -- code systems --------------------------------------------------------------------------------
EVENT_CODES = f"{TERMINOLOGY}/medcom-messaging-eventCodes"
EVENT_CARE_COMMUNICATION = "care-communication-message"
EVENT_ACKNOWLEDGEMENT = "acknowledgement-message"
ACTIVITY_CODES = f"{TERMINOLOGY}/medcom-messaging-activityCodes"
CC_ACTIVITIES = frozenset({"new-message", "reply-message", "forward-message"})
ACK_ACTIVITY = "acknowledgement"
DESTINATION_USE = f"{TERMINOLOGY}/medcom-messaging-destinationUse"
DESTINATION_USE_EXTENSION = (
    f"{IG}/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)
CATEGORY_CODES = f"{TERMINOLOGY}/medcom-careCommunication-categoryCodes"
CATEGORIES = frozenset(
    {
        "alcohol-and-drug-treatment", "assistive-devices", "carecoordination", "decease",
        "discharge", "examination-results", "healthcare", "home-care-assessment", "medicine",
        "nursing", "outpatient", "psychiatry-social-disability", "regarding-referral",
        "telemedicine", "training", "other",
    }
)  # fmt: skip
PRIORITY_CODES = "http://hl7.org/fhir/request-priority"
EVENT_STATUS_UNKNOWN = "unknown"

# The payload extensions of a CareCommunication segment (medcom-core).
EXT = f"{IG}/core/StructureDefinition"
EXT_DATE = f"{EXT}/medcom-core-datetime-extension"
EXT_AUTHOR = f"{EXT}/medcom-core-practitioner-extension"
EXT_AUTHOR_CONTACT = f"{EXT}/medcom-core-contact-extension"
EXT_IDENTIFIER = f"{EXT}/medcom-core-identifier-extension"

# -- acknowledgements ----------------------------------------------------------------------------
ACK_OK = "ok"
ACK_TRANSIENT = "transient-error"
ACK_FATAL = "fatal-error"
ACK_CODES = frozenset({ACK_OK, ACK_TRANSIENT, ACK_FATAL})
ERROR_CODES = f"{TERMINOLOGY}/medcom-acknowledgement-error-codes"
# MedCom's own acknowledgement error codes (medcom-acknowledgement-error-codes).
RECEIVER_UNKNOWN = "MSG_Receiver_Identifier_UNKNOWN"
RECEIVER_MISSING = "MSG_Receiver_Identifier_MISSING"
UNABLE_TO_RECEIVE_TYPE = "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"
VALUESET_VALUE_UNKNOWN = "MSG_VALUESET_VALUE_UNKNOWN"
ELEMENT_TOO_LONG = "MSG_Element_To_Long"
DATATYPE_WRONG = "MSG_Datatype_Wrong"
MAILBOX_OUT_OF_OPERATION = "MSG_Mailbox_Out_Of_Operation"
# FHIR's operation-outcome codes, which MedCom's issue-details value set also takes.
OPERATION_OUTCOME = "http://terminology.hl7.org/CodeSystem/operation-outcome"
BAD_SYNTAX = "MSG_BAD_SYNTAX"
JSON_OBJECT = "MSG_JSON_OBJECT"
LOCAL_FAIL = "MSG_LOCAL_FAIL"
DUPLICATE_ID = "MSG_DUPLICATE_ID"
RESOURCE_REQUIRED = "MSG_RESOURCE_REQUIRED"
ID_INVALID = "MSG_ID_INVALID"
LOCAL_PROCESSING = "MSG_LOCAL_FAIL"
MEDCOM_ERROR_CODES = frozenset(
    {
        RECEIVER_UNKNOWN, RECEIVER_MISSING, UNABLE_TO_RECEIVE_TYPE, VALUESET_VALUE_UNKNOWN,
        "MSG_CodeSystem_VALUE_UNKNOWN", ELEMENT_TOO_LONG, DATATYPE_WRONG,
        MAILBOX_OUT_OF_OPERATION, "MSG_Damaged_durin_transport",
    }
)  # fmt: skip


def error_code_system(code: str) -> str:
    """The code system an acknowledgement error code belongs to."""
    return ERROR_CODES if code in MEDCOM_ERROR_CODES else OPERATION_OUTCOME
