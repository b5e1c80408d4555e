"""The words of the Agreements and Audit pages: both languages name the same keys, and every
key a template of these pages asks for literally is in the catalogue (a missing one would show
as the key itself)."""

from __future__ import annotations

import re
from importlib import resources

from hub.console import labels, labels_dpo
from schemas.registry import CATEGORIES

TEMPLATES = (
    "agreements_list.html",
    "agreements_detail.html",
    "agreements_form.html",
    "agreements_import.html",
    "agreement_terms.html",
    "audit_search.html",
    "audit_entry.html",
    "audit_review.html",
)


def test_swedish_and_english_name_the_same_keys() -> None:
    assert set(labels_dpo.sv) == set(labels_dpo.en)
    assert all(labels.CATALOGUE[lang][k] for lang in ("sv", "en") for k in labels_dpo.sv)


def test_every_literal_key_of_the_templates_is_known() -> None:
    folder = resources.files("hub.console").joinpath("templates")
    asked = {
        key
        for name in TEMPLATES
        for key in re.findall(
            r"""\bt\(["']([a-z_.0-9]+)["']\)""", folder.joinpath(name).read_text()
        )
    }
    assert asked
    assert sorted(asked - set(labels.sv)) == []
    assert sorted(asked - set(labels.en)) == []


def test_every_category_has_its_plain_name() -> None:
    assert {f"category.{c}" for c in CATEGORIES} <= set(labels_dpo.sv)
