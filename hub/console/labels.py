"""The console's words, in Swedish (the default) and English.

Templates call ``t("key")``; a key missing from a language falls back to Swedish, and a key
missing from both shows as the key itself, so a forgotten label is visible, never an error.
Pages of other sections add their keys to these dicts (one line each, sorted by section).
"""

from __future__ import annotations

from collections.abc import Callable

from hub.console import labels_compliance, labels_dpo, labels_messages, labels_overview

LANGUAGES = ("sv", "en")
DEFAULT = "sv"

sv: dict[str, str] = {
    "app.name": "Omsorgshub",
    "app.console": "Konsol",
    "nav.home": "Start",
    "nav.agreements": "Avtal",
    "nav.audit": "Granskningslogg",
    "nav.messages": "Meddelanden",
    "nav.overview": "Översikt",
    "nav.users": "Användare",
    "nav.skip": "Hoppa till innehållet",
    "role.district_admin": "Förvaltningsadministratör",
    "role.dpo": "Dataskyddsombud",
    "role.operator": "Driftoperatör",
    "role.hub_admin": "Hubbadministratör",
    "roles.none": "Du har ännu ingen roll. Be en hubbadministratör om behörighet.",
    "header.signed_in_as": "Inloggad som",
    "header.roles": "Roller",
    "header.everywhere": "hela hubben",
    "language.switch": "Språk",
    "login.title": "Logga in",
    "login.name": "Användarnamn",
    "login.password": "Lösenord",
    "login.submit": "Logga in",
    "login.failed": "Fel användarnamn eller lösenord.",
    "login.throttled": "För många felaktiga lösenord. Inloggningen är spärrad en stund.",
    "login.expired": "Sessionen har upphört. Logga in igen.",
    "logout.submit": "Logga ut",
    "logout.everywhere": "Logga ut överallt",
    "logout.done": "Du är utloggad.",
    "home.title": "Start",
    "home.intro": "Välj ett område. Du ser bara det som dina roller ger dig rätt till.",
    "home.in": "i",
    "section.agreements": "Personuppgiftsbiträdesavtal för dina förvaltningar.",
    "section.audit": "Sök i granskningsloggen och ta fram registerutdrag.",
    "section.messages": "Meddelanden, leveranser och döda brev.",
    "section.overview": "Flöden, fördröjningar och larm.",
    "section.users": "Konton och roller.",
    "error.title": "Något gick fel",
    "error.reason": "Orsak",
    "error.back": "Tillbaka till start",
    "users.display_name": "Namn",
    "users.state": "Status",
    "users.active": "aktiv",
    "users.disabled": "avstängd",
    "users.add": "Lägg till konto",
    "users.roles": "Ge eller ta bort roll",
    "users.role": "Roll",
    "users.districts": "Förvaltningar",
    "users.districts.help": "Åtskilda med mellanslag; tomt för hubbadministratör, eller för att "
    "ta bort rollen i alla förvaltningar.",
    "users.grant": "Ge roll",
    "users.revoke": "Ta bort roll",
    "users.access": "Stäng av eller öppna konto",
    "users.reason": "Skäl (sparas i granskningsloggen)",
    "users.disable": "Stäng av",
    "users.enable": "Öppna igen",
    "users.done.added": "Kontot är tillagt.",
    "users.done.granted": "Rollen är given.",
    "users.done.revoked": "Rollen är borttagen.",
    "users.done.disabled": "Kontot är avstängt och dess sessioner avslutade.",
    "users.done.enabled": "Kontot är öppnat igen.",
}

en: dict[str, str] = {
    "app.name": "Omsorgshub",
    "app.console": "Console",
    "nav.home": "Home",
    "nav.agreements": "Agreements",
    "nav.audit": "Audit trail",
    "nav.messages": "Messages",
    "nav.overview": "Overview",
    "nav.users": "Users",
    "nav.skip": "Skip to content",
    "role.district_admin": "District administrator",
    "role.dpo": "Data-protection officer",
    "role.operator": "Operator",
    "role.hub_admin": "Hub administrator",
    "roles.none": "You hold no role yet. Ask a hub administrator for access.",
    "header.signed_in_as": "Signed in as",
    "header.roles": "Roles",
    "header.everywhere": "the whole hub",
    "language.switch": "Language",
    "login.title": "Sign in",
    "login.name": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Wrong user name or password.",
    "login.throttled": "Too many wrong passwords. Sign-in is locked for a while.",
    "login.expired": "Your session has ended. Sign in again.",
    "logout.submit": "Sign out",
    "logout.everywhere": "Sign out everywhere",
    "logout.done": "You are signed out.",
    "home.title": "Home",
    "home.intro": "Choose an area. You see only what your roles allow.",
    "home.in": "in",
    "section.agreements": "Data-processing agreements of your districts.",
    "section.audit": "Search the audit trail and produce subject access extracts.",
    "section.messages": "Messages, deliveries and dead letters.",
    "section.overview": "Flows, latencies and alerts.",
    "section.users": "Accounts and roles.",
    "error.title": "Something went wrong",
    "error.reason": "Reason",
    "error.back": "Back to home",
    "users.display_name": "Name",
    "users.state": "State",
    "users.active": "active",
    "users.disabled": "disabled",
    "users.add": "Add account",
    "users.roles": "Grant or revoke a role",
    "users.role": "Role",
    "users.districts": "Districts",
    "users.districts.help": "Separated by spaces; empty for hub administrator, or to revoke the "
    "role in every district.",
    "users.grant": "Grant role",
    "users.revoke": "Revoke role",
    "users.access": "Disable or enable an account",
    "users.reason": "Reason (kept in the audit trail)",
    "users.disable": "Disable",
    "users.enable": "Enable again",
    "users.done.added": "The account is added.",
    "users.done.granted": "The role is granted.",
    "users.done.revoked": "The role is revoked.",
    "users.done.disabled": "The account is disabled and its sessions ended.",
    "users.done.enabled": "The account is enabled again.",
}

sv.update(labels_dpo.sv)  # the Agreements and Audit pages
en.update(labels_dpo.en)
sv.update(labels_overview.sv)  # the overview on the start page
en.update(labels_overview.en)
sv.update(labels_messages.sv)  # the Messages pages
en.update(labels_messages.en)
sv.update(labels_compliance.sv)  # the Compliance pages
en.update(labels_compliance.en)

CATALOGUE: dict[str, dict[str, str]] = {"sv": sv, "en": en}


def language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` in ``lang``: the label, the Swedish one if missing, else the key."""
    words = CATALOGUE[language(lang)]

    def t(key: str) -> str:
        return words.get(key) or sv.get(key) or key

    return t
