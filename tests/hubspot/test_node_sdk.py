"""HubSpot's Node SDK, `@hubspot/api-client`, against a live Assent (only `basePath` changes).

Its communication-preferences client is v3 (`statusApi`); v4 goes through the SDK's own
`apiRequest`, which signs and sends like every generated call. The SDK is installed with npm
into a cache directory on first use. Without node/npm the test skips — unless CI=true, where it
fails (`.ci/run` installs Node.js from Debian).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LiveServer
from tests.conftest import IN_CI, Catalog
from tests.hubspot.conftest import Native

SDK_VERSION = "14.0.1"
CACHE = Path(
    os.environ.get("ASSENT_TEST_NODE_CACHE", Path(tempfile.gettempdir()) / f"assent-hubspot-node-{SDK_VERSION}")
)

SCRIPT = r"""
const hubspot = require('@hubspot/api-client');
const client = new hubspot.Client({ accessToken: process.env.TOKEN, basePath: process.env.BASE, numberOfApiCallRetries: 0 });
const email = process.env.EMAIL;
const typeId = Number(process.env.TYPE_ID);
(async () => {
  const subscribed = await client.communicationPreferences.statusApi.subscribe({
    emailAddress: email, subscriptionId: String(typeId), legalBasis: 'CONSENT_WITH_NOTICE', legalBasisExplanation: 'Node form',
  });
  const v3 = await client.communicationPreferences.statusApi.getEmailStatus(email);
  const written = await client.apiRequest({
    method: 'POST', path: `/communication-preferences/v4/statuses/${encodeURIComponent(email)}`,
    body: { channel: 'EMAIL', statusState: 'UNSUBSCRIBED', subscriptionId: typeId },
  });
  const read = await client.apiRequest({
    method: 'GET', path: `/communication-preferences/v4/statuses/${encodeURIComponent(email)}`, qs: { channel: 'EMAIL' },
  });
  let refused = null;
  try {
    await client.communicationPreferences.statusApi.subscribe({ emailAddress: email, subscriptionId: String(typeId) });
  } catch (error) {
    refused = { code: error.code, body: error.body };
  }
  console.log(JSON.stringify({ subscribed, v3, written: await written.json(), read: await read.json(), refused }));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("node/npm are not installed (Debian: apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    installed = CACHE / "node_modules" / "@hubspot" / "api-client" / "package.json"
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker installs, the others wait
        if not installed.exists():
            (CACHE / "package.json").write_text('{"name": "assent-node-sdk-test", "private": true}\n')
            done = subprocess.run(
                [str(npm), "install", "--no-audit", "--no-fund", "--silent", f"@hubspot/api-client@{SDK_VERSION}"],
                cwd=CACHE,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0 or not installed.exists():
                _missing(f"npm could not install @hubspot/api-client: {done.stderr[-2000:]}")
    return CACHE / "node_modules"


def test_the_node_sdk_reads_v3_status_and_v4_statuses(
    node_sdk: Path, live_server: LiveServer, token: str, make: Catalog, native: Native, tmp_path: Path
) -> None:
    news = make.type("Newsletter")
    script = tmp_path / "run.js"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "NODE_PATH": str(node_sdk),
        "TOKEN": token,
        "BASE": live_server.url,
        "EMAIL": "node@example.com",
        "TYPE_ID": str(news),
    }
    done = subprocess.run(
        [str(shutil.which("node")), str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])

    assert (out["subscribed"]["status"], out["subscribed"]["legalBasis"]) == ("SUBSCRIBED", "CONSENT_WITH_NOTICE")
    assert out["v3"]["recipient"] == "node@example.com"
    assert [(s["id"], s["status"]) for s in out["v3"]["subscriptionStatuses"]] == [(str(news), "SUBSCRIBED")]
    assert out["written"]["results"][0]["setStatusSuccessReason"] == "REQUESTED_CHANGE_OCCURRED"
    assert [(s["subscriptionId"], s["status"]) for s in out["read"]["results"]] == [(news, "UNSUBSCRIBED")]
    assert out["refused"]["code"] == 400
    assert out["refused"]["body"]["subCategory"] == "RESUBSCRIBE_NOT_ALLOWED"
    assert native.status("node@example.com", news) == "UNSUBSCRIBED"
    assert [e["source"] for e in native.history("node@example.com")] == ["HUBSPOT_API", "HUBSPOT_API"]
