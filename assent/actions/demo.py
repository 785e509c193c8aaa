"""A demo data set: two business units, types on every channel, 25 contacts, and a history
that shows every kind of change — opt-ins by a user and by the people themselves, opt-outs
from the preference center and one-click links, an SMS STOP, a wide opt-out set by a person
and one set by a user, and a hard bounce. Every change goes through the `Writer`, so the
ledger explains the state (`assent ledger verify` passes) and times are the real write times.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.audit import COMMAND_LINE, AuditTag
from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Source, Status
from assent.services import audit, catalog, contacts
from assent.services.changes import Writer
from assent.services.state import Account, SubscriptionType, load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database

NOTICE = (
    "I agree to receive the messages I tick from Acme Outfitters. "
    "I can unsubscribe at any time from the link in every message."
)
NOTICE_VERSION = "2026-01"
NOTICE_SV = (
    "Jag vill få de utskick jag kryssar i från Acme Outfitters. "
    "Jag kan avregistrera mig när som helst via länken i varje utskick."
)

#: first name, last name, company, phone (or None). Emails are first.last@<domain>.
PEOPLE: list[tuple[str, str, str | None, str | None]] = [
    ("Alice", "Andersson", "Nordic Trails AB", "+46701234501"),
    ("Bob", "Berg", None, None),
    ("Charlie", "Carlsson", "Fjällräven Friends", "+46702345602"),
    ("Dana", "Dahl", None, None),
    ("Erik", "Ek", "Ek & Son", "+46703456703"),
    ("Frida", "Falk", None, None),
    ("Gustav", "Gran", "Gran Outdoor", None),
    ("Hanna", "Holm", None, "+46704567804"),
    ("Ivan", "Isaksson", None, None),
    ("Julia", "Jansson", "Jansson Design", None),
    ("Karl", "Kvist", None, "+46705678905"),
    ("Lena", "Lind", None, None),
    ("Maja", "Magnusson", "Magnusson Konsult", None),
    ("Nils", "Nyberg", None, "+46706789006"),
    ("Olga", "Olsson", None, None),
    ("Per", "Persson", "Persson Bygg", None),
    ("Rosa", "Rask", None, "+46707890107"),
    ("Sven", "Strand", None, None),
    ("Tove", "Torn", "Torn Media", None),
    ("Ulf", "Udd", None, None),
    ("Vera", "Vik", None, "+46708901208"),
    ("Wilma", "Wall", None, None),
    ("Yusuf", "Yilmaz", "Yilmaz Imports", "+14155550123"),
    ("Zoe", "Zander", None, None),
    ("Åsa", "Öberg", "Öberg Fritid", "+4915112345678"),
]


def seed_if_empty(db: Database) -> bool:
    """Seed the demo data into a database that has no subscription types yet."""
    with db.write() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(t.subscription_types)).scalar_one():
            return False
        _catalog(conn)
        account = load_account(conn)
        people = _contacts(conn, account)
        _history(db, conn, account, {ty.name: ty for ty in load_types(conn).values()}, people)
        after = {"business_units": len(catalog.list_business_units(conn)), "contacts": len(people)}
        audit.record(conn, AuditTag.DEMO_SEEDED, COMMAND_LINE, None, after=after)
    return True


def _catalog(conn: Connection) -> None:
    catalog.update_business_unit(
        conn,
        0,
        {
            "company_name": "Acme Outfitters AB",
            "postal_address": "Sveavägen 1, 111 57 Stockholm, Sweden",
            # Navy for the masthead and buttons (white text on it: 8.7:1), an orange stripe
            # under the masthead; the page itself stays neutral (pages.css).
            "primary_color": "#1f4e79",
            "accent_color": "#e36c0a",
            "notice_text": NOTICE,
            "notice_version": NOTICE_VERSION,
            "notice_translations": {"sv": {"text": NOTICE_SV}},
            "sms_help_text": "support@acme.example",  # the help contact: HELP answers "<company>: <this>. …"
        },
    )
    kids = catalog.create_business_unit(
        conn, {"name": "Acme Kids", "company_name": "Acme Kids AB", "default_language": "sv"}
    )
    specs: list[tuple[int, Channel, str, str, dict[str, tuple[str, str]]]] = [
        (0, Channel.EMAIL, "Newsletter", "Our monthly newsletter", {"sv": ("Nyhetsbrev", "Vårt månadsbrev")}),
        (0, Channel.EMAIL, "Product updates", "New products and features", {"sv": ("Produktnyheter", "Nya produkter")}),
        (0, Channel.EMAIL, "Offers", "Discounts and sales", {"sv": ("Erbjudanden", "Rabatter och rea")}),
        (0, Channel.SMS, "SMS promotions", "Offers by text", {"sv": ("SMS-erbjudanden", "Erbjudanden via SMS")}),
        (0, Channel.WHATSAPP, "WhatsApp Marketing", "Offers on WhatsApp", {}),
        (
            kids["id"],
            Channel.EMAIL,
            "Kids newsletter",
            "News from Acme Kids",
            {"sv": ("Nyhetsbrev för barn", "Nyheter från Acme Kids")},
        ),
    ]
    for position, (bu_id, channel, name, description, translations) in enumerate(specs):
        catalog.create_subscription_type(
            conn,
            {
                "business_unit_id": bu_id,
                "channel": channel.value,
                "name": name,
                "description": description,
                "purpose": "Marketing",
                "position": position,
                "translations": {lang: {"name": n, "description": d} for lang, (n, d) in translations.items()},
            },
        )


def _contacts(conn: Connection, account: Account) -> list[dict[str, Any]]:
    created: list[dict[str, Any]] = []
    for n, (first, last, company, phone) in enumerate(PEOPLE):
        local = f"{first}.{last}".lower().translate(str.maketrans("åäö", "aao"))
        values: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "company": company,
            "email": f"{local}@{'example.org' if n % 3 == 0 else 'example.com'}",
            "phone": phone,
            "properties": {"customer_since": str(2015 + n % 10), "tier": "gold" if n % 4 == 0 else "standard"},
        }
        created.append(contacts.create_contact(conn, account, values))
    return created


def _history(
    db: Database, conn: Connection, account: Account, types: dict[str, SubscriptionType], people: list[dict[str, Any]]
) -> None:
    emails = [account.normalize(Channel.EMAIL, p["email"]) for p in people]
    phones = [account.normalize(Channel.SMS, p["phone"]) for p in people if p["phone"]]

    def writer(source: Source, evidence: Evidence | None = None) -> Writer:
        return Writer(db, conn, account, Actor(source, "demo"), evidence or Evidence())

    def opt(w: Writer, addresses: list[Address], names: list[str], status: Status) -> None:
        channel = addresses[0].channel
        w.change_statuses(channel, [(a, [(types[n], status) for n in names]) for a in addresses])

    # A user subscribes existing customers (legitimate interest), most of the list.
    user = writer(Source.MANUAL, Evidence(LegalBasis.LEGITIMATE_INTEREST_CLIENT, "Existing customer (demo data)"))
    opt(user, emails[:18], ["Newsletter", "Product updates"], Status.SUBSCRIBED)
    # People sign up themselves through a form, with the notice they saw (R6).
    form = writer(Source.FORM, Evidence(notice_text=NOTICE, notice_version=NOTICE_VERSION))
    opt(form, emails[::2], ["Offers"], Status.SUBSCRIBED)
    opt(form, emails[20:], ["Newsletter"], Status.SUBSCRIBED)
    opt(form, emails[3:9], ["Kids newsletter"], Status.SUBSCRIBED)
    opt(form, phones[:6], ["SMS promotions"], Status.SUBSCRIBED)
    whatsapp = [Address(Channel.WHATSAPP, p.key, p.display) for p in phones[2:5]]
    opt(form, whatsapp, ["WhatsApp Marketing"], Status.SUBSCRIBED)
    # Opt-outs: from the preference center, a one-click link, and an SMS STOP (wide).
    opt(writer(Source.PREFERENCE_CENTER), [emails[1], emails[5]], ["Newsletter"], Status.UNSUBSCRIBED)
    opt(writer(Source.ONE_CLICK), [emails[4]], ["Offers"], Status.UNSUBSCRIBED)
    writer(Source.SMS_KEYWORD).set_wide_opt_out(Channel.SMS, [phones[1]], 0)
    # Unsubscribed from all email: one by the person (only they can lift it), one by a user.
    writer(Source.PREFERENCE_CENTER).set_wide_opt_out(Channel.EMAIL, [emails[2]], 0)
    writer(Source.MANUAL, Evidence(legal_basis_explanation="Asked us by phone to stop all email")).set_wide_opt_out(
        Channel.EMAIL, [emails[9]], 0
    )
    # A hard bounce.
    writer(Source.BOUNCE, Evidence(legal_basis_explanation="550 5.1.1 mailbox unavailable")).set_undeliverable(
        emails[11], True, "550 5.1.1 mailbox unavailable"
    )
    # A user resubscribes someone who opted out, with an explanation (R5).
    resubscribe = Evidence(LegalBasis.CONSENT_WITH_NOTICE, "Asked to be added back at the Stockholm store")
    opt(writer(Source.MANUAL, resubscribe), [emails[5]], ["Newsletter"], Status.SUBSCRIBED)
