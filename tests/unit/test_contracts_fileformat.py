"""Agreement files: strict reading (key, line, table, hints) and a lossless round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.errors import AgreementFileError
from contracts.fileformat import dump_agreements, load_agreements, parse_agreements
from contracts.model import Agreement
from schemas.registry import CATEGORIES as REGISTRY_CATEGORIES
from schemas.registry import default_registry

CATEGORIES = frozenset(
    {"identity", "pseudonym", "contact", "case", "decisions", "fees", "invoices", "health", "time"}
)
TYPES = frozenset({"case.referral", "timereport.visit"})
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "agreement-sodermalm.toml"

MINIMAL = """\
[[agreement]]
id = "PUB-2026-014"
district = "sdn-sodermalm"
controller_name = "Södermalms stadsdelsnämnd"
dpo_contact = "dpo@example.org"
processor = "aldre-direkt"
legal_reference = "Dnr 1/2026"
subject_categories = ["elderly care clients"]
senders = ["aldre-direkt"]
recipients = ["funktionsbrevlada-sodermalm"]
purposes = ["case-referral"]
message_types = ["case.referral"]
categories = ["identity", "case"]
valid_from = 2026-01-01T00:00:00+01:00
retention_days = 30
"""


def parse(text: str) -> list[Agreement]:
    return parse_agreements(text, known_categories=CATEGORIES, known_types=TYPES)


def refused(text: str) -> AgreementFileError:
    with pytest.raises(AgreementFileError) as caught:
        parse(text)
    return caught.value


def test_minimal_agreement_gets_defaults() -> None:
    (agreement,) = parse(MINIMAL)
    assert agreement.ref == "PUB-2026-014@1"
    assert agreement.valid_from == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert agreement.valid_to is None
    assert agreement.consent_required == frozenset({"decisions", "fees", "invoices"})
    assert agreement.sub_processors == ()
    assert agreement.status == "active"


def test_example_file_is_valid_and_holds_two_agreements() -> None:
    agreements = load_agreements(EXAMPLE, known_categories=CATEGORIES, known_types=TYPES)
    assert [a.ref for a in agreements] == ["PUB-2026-014@1", "PUB-2026-015@1"]
    assert {a.district for a in agreements} == {"sdn-sodermalm"}


def test_example_file_fits_the_real_registry() -> None:
    """The shipped example must import into the hub as it is: check it against ``schemas``."""
    types = frozenset(t.name for t in default_registry().types())
    agreements = load_agreements(EXAMPLE, known_categories=REGISTRY_CATEGORIES, known_types=types)
    assert len(agreements) == 2


def test_unknown_key_names_key_line_table_and_near_miss() -> None:
    text = MINIMAL.replace(
        "retention_days = 30", "retention_days = 30\nvalid_untill = 2027-01-01T00:00:00Z"
    )
    error = refused(text)
    assert error.key == "valid_untill"
    assert error.line == 16
    assert error.table == "agreement[1]"
    assert "did you mean 'valid_to'?" in str(error)


def test_unknown_key_in_second_table_points_at_its_line() -> None:
    second = MINIMAL.replace("PUB-2026-014", "PUB-2026-015").replace(
        'processor = "aldre-direkt"', 'procesor = "aldre-direkt"'
    )
    error = refused(MINIMAL + "\n" + second)
    (problem,) = [p for p in error.problems if p.key == "procesor"]
    assert problem.table == "agreement[2]"
    assert problem.line == 17 + 5  # second header on line 17, the key on its 6th line
    assert "did you mean 'processor'?" in problem.message


def test_unknown_top_level_key_and_table() -> None:
    error = refused('format = 2\n[agrement]\nid = "x"\n')
    keys = {problem.key: problem for problem in error.problems}
    assert "did you mean 'agreement'?" in str(keys["agrement"])
    assert keys["agrement"].line == 2
    assert keys["format"].line == 1
    assert "no [[agreement]] table" in str(error)


def test_missing_required_keys_are_each_named() -> None:
    text = "\n".join(
        line for line in MINIMAL.splitlines() if not line.startswith(("purposes", "valid_from"))
    )
    error = refused(text)
    assert {p.key for p in error.problems} == {"purposes", "valid_from"}
    assert all("missing required key" in p.message for p in error.problems)
    assert all(p.line == 1 for p in error.problems)  # the table header


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (
            "retention_days = 30",
            'retention_days = "30"',
            "retention_days",
            "an integer, not a string",
        ),
        ("retention_days = 30", "retention_days = true", "retention_days", "not a boolean"),
        (
            'senders = ["aldre-direkt"]',
            'senders = "aldre-direkt"',
            "senders",
            "array of strings",
        ),
        ('senders = ["aldre-direkt"]', "senders = [1, 2]", "senders", "array of strings"),
        ('processor = "aldre-direkt"', "processor = 7", "processor", "a string, not an integer"),
        (
            "valid_from = 2026-01-01T00:00:00+01:00",
            "valid_from = 2026-01-01",
            "valid_from",
            "is a date",
        ),
        (
            "valid_from = 2026-01-01T00:00:00+01:00",
            "valid_from = 2026-01-01T00:00:00",
            "valid_from",
            "no offset",
        ),
        (
            "valid_from = 2026-01-01T00:00:00+01:00",
            'valid_from = "2026-01-01"',
            "valid_from",
            "not a string",
        ),
    ],
)
def test_wrong_types_are_named(old: str, new: str, key: str, words: str) -> None:
    error = refused(MINIMAL.replace(old, new))
    assert error.key == key
    assert words in str(error)
    assert error.line == MINIMAL.splitlines().index(old) + 1


def test_unknown_category_and_type_with_hints() -> None:
    text = MINIMAL.replace('"identity", "case"', '"identity", "helth"').replace(
        '["case.referral"]', '["case.referal", "pizza.order"]'
    )
    messages = {(p.key, p.message) for p in refused(text).problems}
    assert ("categories", "unknown category 'helth'; did you mean 'health'?") in messages
    assert (
        "message_types",
        "unknown message type 'case.referal'; did you mean 'case.referral'?",
    ) in messages
    assert any(key == "message_types" and "'pizza.order'; known:" in msg for key, msg in messages)


def test_unknown_consent_category_is_refused() -> None:
    error = refused(MINIMAL + 'consent_required = ["fee"]\n')
    assert error.key == "consent_required"
    assert "did you mean 'fees'?" in str(error)


def test_valid_to_must_be_after_valid_from() -> None:
    error = refused(MINIMAL + "valid_to = 2026-01-01T00:00:00+01:00\n")
    assert error.key == "valid_to"
    assert error.line == 16
    assert "must be after valid_from" in str(error)


def test_duplicate_entries_and_duplicate_agreements() -> None:
    error = refused(MINIMAL.replace('["aldre-direkt"]', '["aldre-direkt", "aldre-direkt"]'))
    assert error.key == "senders"
    assert "more than once" in str(error)
    error = refused(MINIMAL + "\n" + MINIMAL)
    assert error.key == "id"
    assert "also in agreement[1]" in str(error)


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("retention_days = 30", 'retention_days = "x"').replace(
        "processor", "procesor"
    )
    keys = [p.key for p in refused(text).problems]
    assert set(keys) == {"procesor", "retention_days", "processor"}
    lines = [p.line or 0 for p in refused(text).problems]
    assert lines == sorted(lines)


def test_toml_syntax_error_carries_the_line() -> None:
    error = refused(MINIMAL + 'purposes == ["x"]\n')
    assert error.line == 16
    assert "not valid TOML" in str(error)


def test_single_table_form_is_accepted() -> None:
    (agreement,) = parse(MINIMAL.replace("[[agreement]]", "[agreement]"))
    assert agreement.id == "PUB-2026-014"


def test_round_trip_is_lossless() -> None:
    agreements = load_agreements(EXAMPLE, known_categories=CATEGORIES, known_types=TYPES)
    stored = replace(
        agreements[0],
        version=4,
        status="revoked",
        revoked_reason='Avtalet sagt upp: "byte av\\ leverantör"\nse beslut\t§ 12',
        changed_by="admin\u00e5",
        changed_at=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
    )
    again = parse(dump_agreements([stored, agreements[1]]))
    assert again == [stored, agreements[1]]
    # and the text is stable: dumping what was read back gives the same text
    assert dump_agreements(again) == dump_agreements([stored, agreements[1]])


def test_missing_file_is_an_agreement_file_error(tmp_path: Path) -> None:
    with pytest.raises(AgreementFileError, match="cannot be read"):
        load_agreements(tmp_path / "nope.toml", known_categories=CATEGORIES, known_types=TYPES)


@pytest.mark.parametrize(
    "text",
    [
        "triple \"\"\" and ''' quotes",
        "control \x00\x01\x1f\x7f characters",
        "windows\r\nline end and a trailing backslash \\",
        "non-BMP \U0001f9d3 and combining a\u030a",
        "  leading and trailing spaces\t",
    ],
)
def test_any_reason_text_survives_the_round_trip(text: str) -> None:
    (agreement,) = parse(MINIMAL)
    stored = replace(agreement, status="revoked", revoked_reason=text, sub_processors=())
    written = dump_agreements([stored])
    assert parse(written) == [stored]
    assert written.startswith("# Data-processing agreements")
    assert "\n[[agreement]]\n" in written


def test_nothing_to_export_is_only_the_header() -> None:
    assert dump_agreements([]).splitlines() == [
        "# Data-processing agreements (GDPR art. 28). Times are UTC; valid_to is exclusive."
    ]
