"""Property-based: whatever schemathesis generates from the OpenAPI schema, the native API
never answers with a 5xx — on both backends."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from assent.domain.model import Channel
from tests.conftest import Catalog


def test_the_api_never_answers_with_a_server_error(app: Any, make: Catalog, admin_headers: dict[str, str]) -> None:
    make.type("Newsletter")
    make.type("SMS offers", Channel.SMS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **admin_headers})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r} → {response.status_code}")

        # One function per operation, built in the loop on purpose.

        check()
    assert failures == []


def test_every_answer_is_documented(app: Any, make: Catalog, admin_headers: dict[str, str]) -> None:
    """Every status code and media type the API answers is in its OpenAPI schema (4xx as
    `application/problem+json`), so schemathesis finds no undocumented answer."""
    make.type("Newsletter")
    make.type("SMS offers", Channel.SMS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    findings: set[str] = set()

    for operation in [result.ok() for result in schema.get_all_operations()]:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **admin_headers})
            if not posixpath.normpath(urlsplit(str(response.request.url)).path).startswith("/api/v1/"):
                # A generated path parameter of dot segments ("../..") that the HTTP client
                # resolved to a path outside the API: the request never reached it.
                return
            try:
                case.validate_response(response, checks=[status_code_conformance, content_type_conformance])
            except FailureGroup as group:
                for failure in group.exceptions:
                    findings.add(f"{case.method} {case.path} → {response.status_code}: {type(failure).__name__}")

        check()
    assert sorted(findings) == [], "\n".join(sorted(findings))
