"""Schemathesis over the decision routes, with a gate key: no 500, responses match the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import TODAY
from socialcredit.access import add_gate
from socialcredit.api import create_app
from socialcredit.registry import Registry
from socialcredit.settings import Settings


@pytest.fixture
def gate_api(sqlite_url: str) -> Iterator[tuple[Any, str]]:
    reg = Registry(Settings(database_url=sqlite_url), today=TODAY)
    reg.ensure_schema()
    key = add_gate(reg.store, reg.policy, name="fuzz", services=["air", "rail_hsr"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(registry=reg))
    yield schema.include(path_regex="^/v1/decisions"), key
    reg.close()


def test_decision_routes_never_fail_on_generated_input(gate_api: tuple[Any, str]) -> None:
    schema, key = gate_api
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    calls: list[int] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/v1/decisions", "/v1/decisions:batch"}
    for operation in operations:
        strategy = operation.as_strategy()

        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            response = case.call_and_validate(headers={"Authorization": f"Bearer {key}"},
                                   checks=[not_a_server_error, response_schema_conformance])
            calls.append(response.status_code)

        given(strategy)(run)()
    assert len(calls) >= 60 and max(calls) < 500  # generated cases reached the app
