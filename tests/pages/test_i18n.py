"""The Babel catalogs: every text on the pages and in the emails is in them, Swedish is
complete, and the committed .mo files match their .po sources (pip install needs no build)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import assent
from assent.i18n import LOCALES, SUPPORTED

ROOT = Path(assent.__file__).parent.parent
METHODS = [
    ("assent/pages/**.py", "python"),
    ("assent/mail/**.py", "python"),
    ("assent/pages/templates/**.html", "jinja2"),
    ("assent/mail/templates/**.html", "jinja2"),
    ("assent/mail/templates/**.txt", "jinja2"),
]


def test_it_has_every_text_translated_and_compiled() -> None:
    in_code = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), METHODS)
        if message[0].startswith("assent/")
    }
    assert len(in_code) > 50
    for language in SUPPORTED:
        po_path = LOCALES / language / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as po_file:
            source = read_po(po_file, locale=language)
        with po_path.with_suffix(".mo").open("rb") as mo_file:
            compiled = read_mo(mo_file)
        in_catalog = {m.id for m in source if m.id}
        assert in_code <= in_catalog, f"{language}: run pybabel extract/update: {sorted(in_code - in_catalog)}"
        translated = {m.id: m.string for m in source if m.id and m.string and not m.fuzzy}
        assert translated == {m.id: m.string for m in compiled if m.id}, (
            f"{language}: run pybabel compile -d assent/locales"
        )
        if language != "en":
            untranslated = [m.id for m in source if m.id and (not m.string or m.fuzzy)]
            assert untranslated == [], f"{language}: untranslated or fuzzy"
