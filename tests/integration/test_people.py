"""People of the console on a real database (SQLite and PostgreSQL): accounts, roles per
district, sign-in with its throttle and timeouts, sign-out everywhere, the audit entries of
all of it, the ``users`` command line, and a DPO's audit search scoped to its districts."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from audit.entry import AuditAction, Outcome
from audit.search import AuditQuery, search
from hub.cli.main import cli, register_subcommands
from hub.demo.console_step import show_console
from hub.errors import AuthenticationError, Conflict, InputError
from hub.services.audit_queries import AuditFilter, report, search_audit
from hub.services.principal import Principal
from hub.services.sessions import session_for, sign_in, sign_out, sign_out_everywhere
from hub.services.systems import list_systems
from hub.services.users import (
    add_user,
    grant,
    list_users,
    principal_for,
    reset_password,
    revoke,
    set_user_active,
)
from hub.storage.tables import user_sessions
from tests.integration.spine import DISTRICT, Spine

OPERATOR = Principal.operator("operator:test")
PASSWORD = "fiktivt-losenord-1"
CLIENT = "192.0.2.10"  # TEST-NET-1


def _person(spine: Spine, name: str = "anna", **roles: list[str]) -> None:
    add_user(spine.hub, OPERATOR, name, "Anna Fiktiv", PASSWORD)
    for role, districts in roles.items():
        grant(spine.hub, OPERATOR, name, role, districts)


def _entries(spine: Spine, action: AuditAction) -> list[tuple[str, str, str | None]]:
    with spine.hub.reader.connect() as conn:
        found = search(conn, AuditQuery(action=action))
    return [(e.actor, e.outcome, e.reason) for e in found]


def test_accounts_and_roles_are_managed_and_audited(spine: Spine) -> None:
    _person(spine, dpo=["sdn-farsta", DISTRICT], operator=[DISTRICT])
    grant(spine.hub, OPERATOR, "anna", "hub_admin")
    with pytest.raises(Conflict):
        add_user(spine.hub, OPERATOR, "anna", "Anna again", PASSWORD)
    with pytest.raises(InputError):
        grant(spine.hub, OPERATOR, "anna", "dpo")  # per district: a district is needed
    (anna,) = list_users(spine.hub, OPERATOR)
    assert anna.roles == {
        "dpo": {"sdn-farsta", DISTRICT},
        "operator": {DISTRICT},
        "hub_admin": {"*"},
    }
    assert revoke(spine.hub, OPERATOR, "anna", "dpo", ["sdn-farsta"]) == ["sdn-farsta"]
    assert revoke(spine.hub, OPERATOR, "anna", "operator") == [DISTRICT]
    (anna,) = list_users(spine.hub, OPERATOR)
    assert anna.roles == {"dpo": {DISTRICT}, "hub_admin": {"*"}}
    changes = _entries(spine, AuditAction.USER_CHANGED)
    assert [c[2] for c in changes] == [
        "account added",
        "granted dpo in sdn-farsta sdn-sodermalm",
        f"granted operator in {DISTRICT}",
        "granted hub_admin in *",
        "revoked dpo in sdn-farsta",
        f"revoked operator in {DISTRICT}",
    ]
    assert {c[0] for c in changes} == {"operator:test"}
    # A hub administrator of the console manages people and systems; a scoped role does not.
    root = principal_for(anna, "hub_admin")
    list_systems(spine.hub, root)
    add_user(spine.hub, root, "bertil", "Bertil Fiktiv", None)
    with pytest.raises(AuthenticationError):
        list_users(spine.hub, principal_for(anna, "dpo"))


def test_sign_in_opens_a_session_that_ends_idle_absolute_and_at_sign_out(spine: Spine) -> None:
    _person(spine, dpo=[DISTRICT])
    token, session = sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    assert session_for(spine.hub, token).person.roles == {"dpo": {DISTRICT}}
    with spine.hub.reader.connect() as conn:
        stored = conn.execute(select(user_sessions.c.token_hash)).scalars().all()
    assert stored == [session.token_hash]  # only its digest
    assert token not in stored

    spine.clock.advance(29 * 60)
    session_for(spine.hub, token)  # active: the idle time starts again
    spine.clock.advance(29 * 60)
    session_for(spine.hub, token)
    spine.clock.advance(31 * 60)
    with pytest.raises(AuthenticationError, match="without activity"):
        session_for(spine.hub, token)

    token, _ = sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    for _ in range(12 * 2):
        spine.clock.advance(29 * 60)
        session_for(spine.hub, token)
    spine.clock.advance(29 * 60)
    with pytest.raises(AuthenticationError, match="longest"):
        session_for(spine.hub, token)

    token, session = sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    sign_out(spine.hub, session)
    with pytest.raises(AuthenticationError) as caught:
        session_for(spine.hub, token)
    assert caught.value.reason == "session_expired"


def test_sign_out_everywhere_password_reset_and_disabling_end_every_session(
    spine: Spine,
) -> None:
    _person(spine, dpo=[DISTRICT])
    first, session = sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    second, _ = sign_in(spine.hub, "anna", PASSWORD, "192.0.2.11")
    assert sign_out_everywhere(spine.hub, session) == 2
    for token in (first, second):
        with pytest.raises(AuthenticationError):
            session_for(spine.hub, token)

    token, _ = sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    assert reset_password(spine.hub, OPERATOR, "anna", "ett-nytt-fiktivt-losenord") == 1
    with pytest.raises(AuthenticationError):
        session_for(spine.hub, token)
    with pytest.raises(AuthenticationError):
        sign_in(spine.hub, "anna", PASSWORD, CLIENT)

    token, _ = sign_in(spine.hub, "anna", "ett-nytt-fiktivt-losenord", CLIENT)
    set_user_active(spine.hub, OPERATOR, "anna", False, "left the municipality")
    with pytest.raises(AuthenticationError):
        session_for(spine.hub, token)
    with pytest.raises(AuthenticationError) as caught:
        sign_in(spine.hub, "anna", "ett-nytt-fiktivt-losenord", CLIENT)
    assert caught.value.reason == "login_failed"  # a disabled account reads as a wrong password


def test_five_wrong_passwords_lock_the_account_then_the_lock_passes(spine: Spine) -> None:
    _person(spine, dpo=[DISTRICT])
    for _ in range(5):
        with pytest.raises(AuthenticationError) as caught:
            sign_in(spine.hub, "anna", "fel-losenord-123", CLIENT)
        assert caught.value.reason == "login_failed"
    with pytest.raises(AuthenticationError) as caught:
        sign_in(spine.hub, "anna", PASSWORD, "192.0.2.99")  # the right one, from elsewhere
    assert caught.value.reason == "login_throttled"
    spine.clock.advance(61)
    sign_in(spine.hub, "anna", PASSWORD, CLIENT)
    refused = [e for e in _entries(spine, AuditAction.SIGNED_IN) if e[1] == Outcome.REFUSED]
    assert len(refused) == 6
    assert all(actor == "user:anna" for actor, _, _ in refused)
    assert refused[-1][2] == "throttled: too many wrong passwords (from 192.0.2.99)"


def test_one_address_guessing_many_accounts_is_locked(spine: Spine) -> None:
    _person(spine, dpo=[DISTRICT])
    for i in range(spine.hub.settings.login_address_max_failures):
        with pytest.raises(AuthenticationError):
            sign_in(spine.hub, f"gissning{i}", "fel-losenord-123", "198.51.100.7")
    with pytest.raises(AuthenticationError) as caught:
        sign_in(spine.hub, "anna", PASSWORD, "198.51.100.7")
    assert caught.value.reason == "login_throttled"
    sign_in(spine.hub, "anna", PASSWORD, CLIENT)  # the account itself is not locked


def test_a_dpo_searches_and_reports_only_its_districts(spine: Spine) -> None:
    person = next(spine.people)
    spine.hub.ingestor.ingest("aldre-direkt", spine.envelope("m-dpo", person))
    _person(spine, dpo=[DISTRICT])
    _person(spine, "bertil", dpo=["sdn-farsta"])
    (anna, bertil) = list_users(spine.hub, OPERATOR)
    number = person.identity.formatted()
    mine = search_audit(spine.hub, principal_for(anna, "dpo"), AuditFilter(subject=number))
    assert mine
    assert {e.district for e in mine} == {DISTRICT}
    theirs = search_audit(spine.hub, principal_for(bertil, "dpo"), AuditFilter(subject=number))
    assert theirs == []
    assert report(spine.hub, principal_for(anna, "dpo"), number, "se", "csv").accesses
    assert report(spine.hub, principal_for(bertil, "dpo"), number, "se", "csv").accesses == ()
    searches = _entries(spine, AuditAction.AUDIT_SEARCHED)
    assert [s[0] for s in searches] == ["user:anna", "user:bertil"]


# -- the command line -------------------------------------------------------------------------


def _run(spine: Spine, *args: str, stdin: str | None = None, code: int = 0) -> Result:
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    result = CliRunner().invoke(cli, ["--as", "operator:cli-test", *args], env=env, input=stdin)
    assert result.exit_code == code, result.output
    return result


def test_the_users_commands(spine: Spine) -> None:
    _run(spine, "users", "list")
    _run(spine, "users", "add", "cecilia", "--display-name", "Cecilia Fiktiv", "--password-stdin",
         stdin=PASSWORD + "\n")  # fmt: skip
    short = _run(spine, "users", "add", "david", "--display-name", "D", "--password-stdin",
                 stdin="kort\n", code=2)  # fmt: skip
    assert "password_too_short" in short.output
    _run(spine, "users", "grant", "cecilia", "dpo", "--district", DISTRICT, "--district", "sdn-x")
    _run(spine, "users", "grant", "cecilia", "hub_admin")
    listed = _run(spine, "users", "list").output
    assert "[dpo sdn-sodermalm sdn-x; hub_admin (hub-wide)]" in listed
    _run(spine, "users", "revoke", "cecilia", "dpo", "--district", "sdn-x")
    bad = _run(spine, "users", "grant", "cecilia", "operator", code=2)
    assert "give --district" in bad.output
    sign_in(spine.hub, "cecilia", PASSWORD, CLIENT)
    _run(spine, "users", "reset-password", "cecilia", "--password-stdin",
         stdin="ett-annat-fiktivt-losenord\n")  # fmt: skip
    _run(spine, "users", "disable", "cecilia", "--reason", "test")
    assert "disabled" in _run(spine, "users", "list").output
    _run(spine, "users", "enable", "cecilia", "--reason", "back")
    missing = _run(spine, "users", "disable", "nobody", "--reason", "x", code=1)
    assert "user_not_found" in missing.output
    actors = {a for a, _, _ in _entries(spine, AuditAction.USER_CHANGED)}
    assert actors == {"operator:cli-test"}


def test_the_demo_prints_a_console_sign_in_for_each_role(
    spine: Spine, capsys: pytest.CaptureFixture[str]
) -> None:
    show_console(spine.hub, "http://127.0.0.1:1")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:1/console/" in out
    logins = re.findall(r"^\s+(\w+)\s+(demo-\S+)\s+(demo-\S+)", out, re.MULTILINE)
    assert {role for role, _, _ in logins} == {"district_admin", "dpo", "operator", "hub_admin"}
    for role, name, password in logins:
        _, session = sign_in(spine.hub, name, password, CLIENT)
        assert set(session.person.roles) == {role}


def test_parallel_guesses_are_counted_one_after_the_other(spine: Spine) -> None:
    # Each sign-in holds its account's count (FOR UPDATE): of a burst of eight guesses at
    # once, five are checked and the rest find the account locked, not eight checked.
    _person(spine, dpo=[DISTRICT])
    barrier = threading.Barrier(8)

    def guess(i: int) -> str:
        barrier.wait()
        try:
            sign_in(spine.hub, "anna", f"fel-losenord-{i:03d}", f"192.0.2.{i + 20}")
        except AuthenticationError as exc:
            return exc.reason
        return "signed in"

    with ThreadPoolExecutor(8) as pool:
        reasons = sorted(pool.map(guess, range(8)))
    assert reasons == ["login_failed"] * 5 + ["login_throttled"] * 3
