"""The OpenAPI document: valid OpenAPI 3.1, complete, and generated from the models the routes validate with."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import openapi_spec_validator
import pytest
from flask import Blueprint, Flask
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from caldav_bridge.model.appointment import Appointment
from config import load_settings
from feeds import health, ols
from feeds.api import bp as api_v1
from feeds.app import create_app
from feeds.openapi import openapi_document
from feeds.openapi_examples import SCHEMA_DESCRIPTIONS
from feeds.operations import Operation, operations_of
from feeds.problems import Problem
from feeds.runtime import runtime
from tests.unit.test_model import BRIEF

REF = "#/components/schemas/{model}"
DOCUMENTED_PREFIXES = ("/api/v1/", "/ols/")


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    app = create_app(load_settings(environ={}, database_url="sqlite://"))
    yield app
    with app.app_context():
        runtime().close()


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def _blueprints() -> list[tuple[Blueprint, str]]:
    return [(health.bp, ""), (api_v1, "/api/v1"), (ols.bp, "/ols")]


def _operations() -> list[tuple[str, Operation]]:
    return [(prefix, op) for bp, prefix in _blueprints() for op in operations_of(bp)]


def _generated(name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """A component as generated from its model: without the example and the catalogue's description that
    the document adds for the browsable docs (``feeds/openapi_examples.py``, checked in test_api_docs)."""
    schema = {key: value for key, value in schemas[name].items() if key != "examples"}
    if name in SCHEMA_DESCRIPTIONS and schema.get("description") == SCHEMA_DESCRIPTIONS[name]:
        del schema["description"]
    return schema


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


# --------------------------------------------------------------------------- a valid OpenAPI 3.1 document


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    openapi_spec_validator.validate(document)


def test_every_component_is_a_valid_json_schema_2020_12(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {"Appointment", "AppointmentDraft", "Problem", "OlsAppointment"} <= schemas.keys()
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert name == re.sub(r"[^A-Za-z0-9._-]", "", name), name
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"


# --------------------------------------------------------------------------- complete


def test_every_route_under_api_v1_and_ols_is_documented_and_nothing_else(app: Flask, document: dict[str, Any]) -> None:
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routed |= {(method.lower(), path) for method in rule.methods or () if method not in {"HEAD", "OPTIONS"}}
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        if path.startswith(DOCUMENTED_PREFIXES)
        for method in operations
    }
    assert routed, "no routes found"
    assert routed - documented == set(), "routes missing from the document"
    assert documented - routed == set(), "documented operations without a route"


def test_every_operation_has_a_unique_id_and_a_summary(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") for ops in document["paths"].values() for op in ops.values())


# --------------------------------------------------------------------------- generated from the validating models


def test_request_bodies_are_the_models_the_routes_validate_with(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = 0
    for prefix, op in _operations():
        documented = document["paths"][prefix + op.path][op.method.lower()]
        if op.body is None:
            assert op.raw_body is not None or "requestBody" not in documented, (op.method, op.path)
            continue
        bodies += 1
        content = documented["requestBody"]["content"]
        assert list(content) == ["application/json"]
        assert content["application/json"]["schema"] == {"$ref": REF.format(model=op.body.__name__)}
        expected = op.body.model_json_schema(ref_template=REF)
        for name, definition in expected.pop("$defs", {}).items():
            assert _generated(name, schemas) == definition, f"{op.body.__name__} uses {name}, documented differently"
        assert _generated(op.body.__name__, schemas) == expected, op.body.__name__
    assert bodies >= 15


def test_the_create_body_is_the_appointment_draft(document: dict[str, Any]) -> None:
    from caldav_bridge.model.requests import AppointmentDraft

    create = document["paths"]["/api/v1/appointments"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": REF.format(model="AppointmentDraft")
    }
    expected = AppointmentDraft.model_json_schema(ref_template=REF)
    expected.pop("$defs")
    assert _generated("AppointmentDraft", document["components"]["schemas"]) == expected


def test_query_parameters_are_the_query_models_fields(document: dict[str, Any]) -> None:
    queries = 0
    for prefix, op in _operations():
        if op.query is None:
            continue
        queries += 1
        documented = document["paths"][prefix + op.path][op.method.lower()]
        in_query = {p["name"]: p for p in documented["parameters"] if p["in"] == "query"}
        model = op.query.model_json_schema(ref_template=REF)
        assert in_query.keys() == model["properties"].keys(), (op.method, op.path)
        for name, parameter in in_query.items():
            assert parameter["required"] == (name in model.get("required", [])), name
            assert {"type": "null"} not in parameter["schema"].get("anyOf", []), "a query string cannot say null"
    assert queries >= 4
    listing = document["paths"]["/api/v1/appointments"]["get"]
    assert "from" in {p["name"] for p in listing["parameters"]}, "the alias, not the Python name from_"


def test_responses_are_the_models_the_routes_serialise(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for prefix, op in _operations():
        documented = document["paths"][prefix + op.path][op.method.lower()]["responses"]
        for status, model in op.responses.items():
            if isinstance(model, type):
                content = documented[str(status)]["content"]
                assert content["application/json"]["schema"] == {"$ref": REF.format(model=model.__name__)}
                assert model.__name__ in schemas


def test_every_error_is_a_problem_document(document: dict[str, Any]) -> None:
    problem = {"schema": {"$ref": REF.format(model="Problem")}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = operation["responses"]
            assert "422" in statuses and "400" in statuses, (method, path)
            if operation.get("security") != []:
                assert {"401", "403", "404"} <= statuses.keys(), (method, path)
                assert statuses["401"]["headers"]["WWW-Authenticate"]["required"] is True
            if "{" in path:
                assert "404" in statuses, (method, path)
            for status, response in statuses.items():
                if int(status) < 400:
                    continue
                assert response["content"] == {"application/problem+json": problem}, (method, path, status)
    expected = Problem.model_json_schema(ref_template=REF)
    for name, definition in expected.pop("$defs", {}).items():
        assert _generated(name, document["components"]["schemas"]) == definition
    assert _generated("Problem", document["components"]["schemas"]) == expected
    example = {
        "type": "http://127.0.0.1:8080/problems/invalid-request",
        "title": "Invalid request",
        "status": 422,
        "errors": [{"field": "name", "message": "String should have at most 255 characters"}],
    }
    Draft202012Validator(_resolved(document, "Problem")).validate(example)


def test_success_headers_are_documented(document: dict[str, Any]) -> None:
    created = document["paths"]["/api/v1/appointments"]["post"]["responses"]["201"]["headers"]
    assert created["ETag"]["required"] is True and created["Location"]["required"] is True
    read = document["paths"]["/api/v1/appointments/{id}"]["get"]["responses"]
    assert read["200"]["headers"]["ETag"]["required"] is True
    assert "304" in read
    listed = document["paths"]["/ols/appointments"]["get"]["responses"]["200"]["headers"]
    assert listed["Link"]["required"] is False, "only when there is a next page"


# --------------------------------------------------------------------------- the appointment's JSON Schema


def _resolved(document: dict[str, Any], name: str) -> dict[str, Any]:
    """Component ``name`` as a standalone JSON Schema (its references rewritten to ``$defs``)."""
    schemas = copy.deepcopy(document["components"]["schemas"])

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else rewrite(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return {**rewrite(schemas[name]), "$defs": rewrite(schemas)}


def _brief_appointment() -> dict[str, Any]:
    # The brief spells INITIAL once as INITAL: accepted on input, never emitted, so not in this (output) schema.
    return {**copy.deepcopy(BRIEF), "status": "INITIAL"}


def test_the_served_appointment_schema_is_the_canonical_models(app: Flask) -> None:
    response = app.test_client().get("/api/v1/schema/appointment.json")
    assert response.status_code == 200
    served = response.get_json()
    expected = Appointment.model_json_schema(mode="serialization")
    assert served == {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "appointment.json", **expected}
    Draft202012Validator.check_schema(served)


def test_a_brief_like_appointment_validates_and_broken_ones_do_not(app: Flask) -> None:
    served = app.test_client().get("/api/v1/schema/appointment.json").get_json()
    validator = Draft202012Validator(served, format_checker=FormatChecker())
    sample = _brief_appointment()
    validator.validate(sample)
    # What the model emits for the brief's example validates too (extra keys in meta and guests are kept).
    validator.validate(Appointment.model_validate(BRIEF).model_dump(mode="json"))
    broken = {
        "unknown status": {**sample, "status": "MAYBE"},
        "no type": {**sample, "meta": {"salesforce": {}}},
        "unknown key": {**sample, "colour": "red"},
        "no calendar id": {**sample, "calendar": {"name": "x"}},
        "name too long": {**sample, "name": "x" * 256},
        "guests not a list": {**sample, "guests": {}},
    }
    for name, instance in broken.items():
        with pytest.raises(ValidationError):
            validator.validate(instance)
        assert name


def test_the_documents_appointment_is_the_served_schema(app: Flask, document: dict[str, Any]) -> None:
    served = app.test_client().get("/api/v1/schema/appointment.json").get_json()
    served_defs = served.get("$defs", {})
    component = _generated("Appointment", document["components"]["schemas"])
    top = {k: v for k, v in served.items() if k not in {"$schema", "$id", "$defs"}}
    as_component = _rewrite_refs(top, "#/$defs/", "#/components/schemas/")
    assert component == as_component
    for name, definition in served_defs.items():
        assert _generated(name, document["components"]["schemas"]) == _rewrite_refs(
            definition, "#/$defs/", "#/components/schemas/"
        )
    Draft202012Validator(_resolved(document, "Appointment"), format_checker=FormatChecker()).validate(
        _brief_appointment()
    )


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace(old, new) if k == "$ref" else _rewrite_refs(v, old, new)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, old, new) for item in node]
    return node


def test_the_document_is_made_once_per_process_for_the_same_settings(document: dict[str, Any]) -> None:
    def served(public_url: str) -> dict[str, Any]:
        app = create_app(load_settings(environ={}, database_url="sqlite://", public_url=public_url))
        try:
            return dict(app.test_client().get("/api/openapi.json").get_json())
        finally:
            with app.app_context():
                runtime().close()

    blueprints = [(health.bp, ""), (api_v1, "/api/v1"), (ols.bp, "/ols")]
    first = openapi_document(blueprints, title="t", version="1", server_url="https://a.example")
    assert openapi_document(blueprints, title="t", version="1", server_url="https://a.example") is first
    assert openapi_document(blueprints, title="t", version="1", server_url="https://b.example") is not first
    elsewhere = served("https://appointments.example.com")
    assert elsewhere["servers"] == [{"url": "https://appointments.example.com"}]
    assert {**elsewhere, "servers": document["servers"]} == document  # only the server differs
