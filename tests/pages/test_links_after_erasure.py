"""After an erasure (R22), the address's old links are dead for good: linking the address
again (`POST /api/v1/links`) gives new links, and the ones sent before the erasure stay a
404 — each erasure bumps the address's token generation."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.storage import tables as t
from assent.storage.db import Database
from tests.pages.conftest import ALICE, Shop, links_for, path


def _erase(client: TestClient, headers: dict[str, str]) -> None:
    erased = client.post("/api/v1/erasures", json={"channel": "EMAIL", "address": ALICE}, headers=headers)
    assert erased.status_code == 200, erased.text


def test_linking_again_after_erasure_does_not_revive_old_links(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    before = links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)
    old = [path(before[name]) for name in ("preferences_url", "unsubscribe_all_url", "unsubscribe_url")]
    assert all(client.get(url).status_code == 200 for url in old)

    _erase(client, admin_headers)
    assert [client.get(url).status_code for url in old] == [404, 404, 404]
    with db.read() as conn:  # the erased address is gone from the link subjects
        ls = t.link_subjects
        kept = conn.execute(sa.select(ls.c.address).where(ls.c.address.is_not(None))).all()
    assert kept == []

    after = links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)
    new = [path(after[name]) for name in ("preferences_url", "unsubscribe_all_url", "unsubscribe_url")]
    assert all(client.get(url).status_code == 200 for url in new)
    assert [client.get(url).status_code for url in old] == [404, 404, 404]
    assert client.post(old[1], data={"List-Unsubscribe": "One-Click"}).status_code == 404

    # a second erasure kills the second generation too
    _erase(client, admin_headers)
    third = links_for(client, write_headers, shop)
    assert client.get(path(third["preferences_url"])).status_code == 200
    assert [client.get(url).status_code for url in old + new] == [404] * 6
