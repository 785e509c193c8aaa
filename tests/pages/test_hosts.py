"""Several hosts, one database (issue 7, point 9): with ASSENT_SECRET_KEYS unset, the
generated signing key lives in the database, so a link signed on one host opens on another."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.pages.conftest import Shop, links_for, path


@contextmanager
def host(
    database_url: str, workdir: Path | None = None, monkeypatch: pytest.MonkeyPatch | None = None
) -> Iterator[TestClient]:
    """What `assent serve` builds on a host where only the database URL is configured: its
    own working directory, settings from the environment, its own engine."""
    if workdir is not None and monkeypatch is not None:
        workdir.mkdir()
        monkeypatch.chdir(workdir)
    settings = Settings.from_env({"ASSENT_DATABASE_URL": database_url}, run_worker=False)
    assert settings.secret_keys == ()
    db = Database(database_url)
    try:
        with TestClient(create_app(settings, db)) as client:
            yield client
    finally:
        db.dispose()


def test_two_hosts_on_one_database_open_each_others_links(
    database_url: str, shop: Shop, write_headers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_dir, two_dir = tmp_path / "host-one", tmp_path / "host-two"
    with host(database_url, one_dir, monkeypatch) as one, host(database_url, two_dir, monkeypatch) as two:
        from_one = path(links_for(one, write_headers, shop)["preferences_url"])
        from_two = path(links_for(two, write_headers, shop)["preferences_url"])
        assert two.get(from_one).status_code == 200
        assert one.get(from_two).status_code == 200
        assert one.get(from_one[:-3] + "abc").status_code == 404  # and a forged one still fails
    assert list(tmp_path.glob("**/*.secret")) == list(tmp_path.glob("**/.assent.secret")) == []  # no key files


@pytest.mark.parametrize("backend", ["sqlite"])
def test_it_adopts_the_key_file_an_earlier_version_wrote(
    database_url: str, db: Database, shop: Shop, write_headers: dict[str, str]
) -> None:
    """Links already sent, signed with the key in `assent.db.secret`, keep working."""
    legacy = Path(str(db.url.database) + ".secret")
    legacy.write_text("the key an earlier version generated\n")
    old = Settings(database_url=database_url, secret_keys=("the key an earlier version generated",), run_worker=False)
    with TestClient(create_app(old, db)) as before:
        sent = path(links_for(before, write_headers, shop)["preferences_url"])
    with host(database_url) as after:
        assert after.get(sent).status_code == 200
    legacy.unlink()  # adopted once: the database has it now
    with host(database_url) as later:
        assert later.get(sent).status_code == 200
