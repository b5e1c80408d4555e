"""The people side of the console without I/O: password hashes, the login throttle, session
timeouts, the CSRF check, and the principal a person becomes for one role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import AuthenticationError, Forbidden, InputError
from hub.services.passwords import Argon2Check, check_new_password, hash_password
from hub.services.principal import Kind, Principal
from hub.services.sessions import check_csrf, expiry, new_csrf_token
from hub.services.throttle import MAX_LOCK_SECONDS, Throttle, locked
from hub.services.users import Person, Role, principal_for

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_passwords_are_argon2id_and_verify_only_the_right_secret() -> None:
    stored = hash_password("fiktivt-losenord-1")
    assert stored.startswith("$argon2id$")
    assert "fiktivt" not in stored
    check = Argon2Check()
    assert check.verify(stored, "fiktivt-losenord-1")
    assert not check.verify(stored, "fiktivt-losenord-2")
    assert not check.verify(None, "fiktivt-losenord-1")  # no account: the dummy hash is used
    assert not check.verify("not a hash", "fiktivt-losenord-1")
    assert not check.verify(stored, "x" * 5000)
    assert not check.needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kort", "password_too_short"),
        ("anna.svensson", "password_weak"),
        ("x" * 2000, "password_too_long"),
    ],
)
def test_weak_new_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        check_new_password("anna.svensson", password)
    assert caught.value.reason == reason


def test_the_throttle_locks_after_five_and_doubles_each_further_lock() -> None:
    throttle = Throttle(max_failures=5, lockout_seconds=60)
    failures, until = 0, None
    for _ in range(4):
        failures, until = throttle.after_failure(failures, NOW)
        assert until is None
    failures, until = throttle.after_failure(failures, NOW)
    assert (failures, until) == (5, NOW + timedelta(seconds=60))
    assert locked(until, NOW + timedelta(seconds=59))
    assert not locked(until, NOW + timedelta(seconds=60))
    for _ in range(5):
        failures, until = throttle.after_failure(failures, NOW)
    assert until == NOW + timedelta(seconds=120)
    _, until = throttle.after_failure(5 * 40 - 1, NOW)
    assert until == NOW + timedelta(seconds=MAX_LOCK_SECONDS)


def test_sessions_end_when_idle_or_too_old() -> None:
    idle = timedelta(minutes=30)
    assert expiry(NOW, NOW, NOW + timedelta(minutes=29), idle, 12) is None
    assert "without activity" in str(expiry(NOW, NOW, NOW + timedelta(minutes=31), idle, 12))
    active = NOW + timedelta(hours=12, minutes=1)
    assert "longest" in str(expiry(NOW, active - timedelta(minutes=1), active, idle, 12))
    assert expiry(NOW, active, active, idle, 13) is None


def test_the_csrf_check_needs_the_session_s_own_token() -> None:
    token = new_csrf_token()
    check_csrf(token, token)
    for bad in (None, "", new_csrf_token(), token[:-1]):
        with pytest.raises(Forbidden) as caught:
            check_csrf(token, bad)
        assert caught.value.reason == "csrf_token_invalid"


ANNA = Person(
    "anna",
    "Anna Fiktiv",
    roles={
        "dpo": frozenset({"sdn-farsta"}),
        "district_admin": frozenset({"sdn-sodermalm", "sdn-farsta"}),
        "operator": frozenset({"sdn-kungsholmen"}),
    },
)


def test_a_person_becomes_the_principal_of_one_role_scoped_to_its_districts() -> None:
    dpo = principal_for(ANNA, Role.DPO)
    assert (dpo.name, dpo.kind, dpo.districts) == ("user:anna", Kind.DPO, frozenset({"sdn-farsta"}))
    admin = principal_for(ANNA, "district_admin")
    assert (admin.kind, admin.districts) == (
        Kind.DISTRICT_ADMIN,
        frozenset({"sdn-sodermalm", "sdn-farsta"}),
    )
    operator = principal_for(ANNA, Role.OPERATOR)
    assert (operator.kind, operator.districts) == (Kind.OPERATOR, frozenset({"sdn-kungsholmen"}))
    with pytest.raises(Forbidden) as caught:
        principal_for(ANNA, Role.HUB_ADMIN)
    assert caught.value.reason == "role_missing"
    root = principal_for(Person("root", "Rot", roles={"hub_admin": frozenset({"*"})}), "hub_admin")
    assert (root.kind, root.districts) == (Kind.HUB_ADMIN, None)


def test_hub_wide_use_cases_refuse_a_scoped_principal() -> None:
    Principal.operator("operator:cli").require_hub_wide(Kind.OPERATOR)
    Principal.hub_admin("user:root").require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    with pytest.raises(AuthenticationError) as caught:
        principal_for(ANNA, Role.OPERATOR).require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    assert caught.value.reason == "needs_hub_wide_role"
    with pytest.raises(AuthenticationError):
        principal_for(ANNA, Role.DPO).require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)


def test_every_label_exists_in_swedish_and_english() -> None:
    from hub.console.labels import en, sv, translator

    assert set(sv) == set(en)
    assert translator("en")("nav.audit") == "Audit trail"
    assert translator("xx")("nav.audit") == "Granskningslogg"  # Swedish is the default
    assert translator("en")("no.such.key") == "no.such.key"  # visible, never an error
