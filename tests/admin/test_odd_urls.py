"""Admin URLs with out-of-range or odd parameters answer the admin's own 404 or 422 page,
never a 500: numbers beyond any id, digits that are not ASCII (`²`), the last day of year
9999, NUL characters — on both backends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.admin.conftest import PASSWORD
from tests.conftest import Catalog

HUGE = "99999999999999999999"
BIG = str(2**63)  # beyond SQLite's and PostgreSQL's integers
INT32 = str(2**31)  # beyond PostgreSQL's integer

ODD_GETS = [
    f"/admin/contacts?subscription_type_id={HUGE}",
    "/admin/contacts?subscription_type_id=²",
    f"/admin/contacts?business_unit_id={HUGE}",
    "/admin/contacts?business_unit_id=¹",
    f"/admin/contacts?after={HUGE}",
    f"/admin/contacts?after={BIG}",
    f"/admin/contacts?after={INT32}",
    "/admin/contacts?after=-1",
    f"/admin/contacts/count?subscription_type_id={HUGE}",
    f"/admin/contacts/{HUGE}",
    f"/admin/contacts/{BIG}",
    f"/admin/contacts/{INT32}",
    f"/admin/contacts/{INT32}/delete",
    f"/admin/contacts/{INT32}/subscribe",
    f"/admin/contacts/{INT32}/resubscribe-all?business_unit_id={HUGE}",
    f"/admin/contacts/{INT32}?business_unit_id={HUGE}",
    "/admin/activity?until=9999-12-31",
    "/admin/activity?since=9999-12-31&until=9999-12-31",
    "/admin/activity?since=0001-01-01",
    f"/admin/activity?subscription_type_id={HUGE}",
    "/admin/activity?subscription_type_id=²",
    f"/admin/activity?before={HUGE}",
    f"/admin/activity?before={BIG}",
    f"/admin/subscription-types/{HUGE}",
    f"/admin/subscription-types/{INT32}",
    f"/admin/subscription-types/{INT32}/preview",
    f"/admin/subscription-types/new?business_unit_id={HUGE}",
    f"/admin/business-units/{HUGE}",
    f"/admin/business-units/{INT32}",
    f"/admin/jobs/{HUGE}",
    f"/admin/contacts/bulk/types?business_unit_id={HUGE}",
    "/admin/workflows?after=²",
    "/admin/workflows/types?index=²",
    "/admin/contacts/enroll?workflow_id=²&contact_id=²",
    "/admin/contacts/enroll?workflow_id=1&contact_id=¹",
]


#: refused by the admin's own NUL guard (admin/web.py) before any view runs;
#: the admin's own 422 page, like its other refusals
NUL_GETS = ["/admin/activity?actor_id=%00", "/admin/activity?address=a%00b@example.com", "/admin/jobs/%00",
            "/admin/contacts?q=%00"]


def _page_says(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_odd_admin_urls_answer_a_page_never_a_500(sign_in: Any, make: Catalog) -> None:
    make.type("Newsletter")
    admin = sign_in("admin")
    answers = {url: admin.get(url) for url in ODD_GETS}
    wrong = {url: r.status_code for url, r in answers.items() if r.status_code >= 500}
    assert wrong == {}
    for url, response in answers.items():
        assert response.status_code in (200, 404, 422), (url, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), url
        if response.status_code != 200:
            assert "Assent" in _page_says(response.text), url  # the admin's own page, not a bare error
    assert {url: admin.get(url).status_code for url in NUL_GETS} == dict.fromkeys(NUL_GETS, 422)


@pytest.mark.parametrize("email", ["a\x00b@example.com", "\x00", "admin-0@example.com\x00"])
def test_a_nul_in_the_sign_in_email_is_a_failed_sign_in(sign_in: Any, email: str) -> None:
    admin = sign_in("admin")
    admin.client.cookies.clear()
    form = admin.client.get("/admin/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert nonce
    response = admin.client.post(
        "/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": nonce.group(1)},
        follow_redirects=False,
    )
    assert response.status_code in (401, 422), response.status_code
    assert response.headers["content-type"].startswith("text/html")
