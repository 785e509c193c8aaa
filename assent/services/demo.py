"""A small demo data set: business units, types on every channel, and some history."""

from __future__ import annotations

import sqlalchemy as sa

from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Source, Status
from assent.services import catalog
from assent.services.changes import Writer
from assent.services.state import load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database


def seed_if_empty(db: Database) -> bool:
    with db.write() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(t.subscription_types)).scalar_one():
            return False
        catalog.update_business_unit(
            conn,
            0,
            {
                "company_name": "Acme Outfitters AB",
                "postal_address": "Sveavägen 1, 111 57 Stockholm, Sweden",
                "primary_color": "#1F4E79",
                "accent_color": "#E36C0A",
                "notice_text": "I agree to receive the emails I tick from Acme Outfitters. "
                "I can unsubscribe at any time from the link in every email.",
                "notice_version": "2026-01",
                "sms_help_text": "Acme Outfitters: reply STOP to opt out. Help: support@acme.example",
            },
        )
        brand = catalog.create_business_unit(
            conn, {"name": "Acme Kids", "company_name": "Acme Kids AB", "default_language": "sv"}
        )
        specs = [
            (0, Channel.EMAIL, "Newsletter", "Our monthly newsletter", {"sv": ("Nyhetsbrev", "Vårt månadsbrev")}),
            (0, Channel.EMAIL, "Product updates", "New products and features", {"sv": ("Produktnyheter", "Nya produkter")}),
            (0, Channel.EMAIL, "Offers", "Discounts and sales", {"sv": ("Erbjudanden", "Rabatter och rea")}),
            (0, Channel.SMS, "SMS promotions", "Offers by text message", {"sv": ("SMS-erbjudanden", "Erbjudanden via SMS")}),
            (0, Channel.WHATSAPP, "WhatsApp Marketing", "Offers on WhatsApp", {}),
            (brand["id"], Channel.EMAIL, "Kids newsletter", "News from Acme Kids", {"sv": ("Nyhetsbrev för barn", "Nyheter från Acme Kids")}),
        ]
        for bu_id, channel, name, description, translations in specs:
            catalog.create_subscription_type(
                conn,
                {
                    "business_unit_id": bu_id,
                    "channel": channel.value,
                    "name": name,
                    "description": description,
                    "purpose": "Marketing",
                    "translations": {lang: {"name": n, "description": d} for lang, (n, d) in translations.items()},
                },
            )
        account = load_account(conn)
        types = {ty.name: ty for ty in load_types(conn).values()}
        user = Writer(
            db,
            conn,
            account,
            Actor(Source.MANUAL, "demo"),
            Evidence(LegalBasis.LEGITIMATE_INTEREST_CLIENT, "Existing customer (demo data)"),
        )
        people = ["alice@example.com", "bob@example.com", "charlie@example.com", "dana@example.com"]
        addresses = [account.normalize(Channel.EMAIL, p) for p in people]
        user.change_statuses(
            Channel.EMAIL,
            [(a, [(types["Newsletter"], Status.SUBSCRIBED), (types["Product updates"], Status.SUBSCRIBED)]) for a in addresses],
        )
        contact = Writer(db, conn, account, Actor(Source.PREFERENCE_CENTER), Evidence())
        contact.change_statuses(Channel.EMAIL, [(addresses[1], [(types["Newsletter"], Status.UNSUBSCRIBED)])])
        contact.set_wide_opt_out(Channel.EMAIL, [addresses[2]], 0)
        from assent.services import contacts

        contacts.seed_demo_contacts(conn, people)
    return True
