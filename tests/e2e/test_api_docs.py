"""The browsable API documentation: every operation and schema described and exemplified (examples that
validate), Swagger UI at /api/docs rendering every operation in headless Chromium with no network, and
the root page linking it all."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from caldav_bridge.runtime import Runtime
from config import load_settings
from feeds.app import create_app
from feeds.cli.admin import demo_summary, run_demo
from feeds.docs import demo_links, set_demo_links
from feeds.feed_state import close_app
from feeds.openapi_examples import (
    OPERATION_DESCRIPTIONS,
    OPERATION_EXAMPLES,
    PARAMETER_EXAMPLES,
    SCHEMA_DESCRIPTIONS,
    SCHEMA_EXAMPLES,
)
from feeds.runtime import runtime
from tests.support.browser import chromium
from tests.support.live import LiveServer, serve

URN = "urn:appointments:openapi"


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    app = create_app(load_settings(environ={}, database_url="sqlite://"))
    yield app
    with app.app_context():
        runtime().close()


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    body: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    return body


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _check(document: dict[str, Any], schema: dict[str, Any], instance: Any, where: object) -> None:
    """Validate ``instance`` against ``schema`` (which may ``$ref`` the document's components)."""
    doc = copy.deepcopy(document)
    doc["x-checked"] = schema
    registry: Registry[Any] = Registry().with_resource(URN, Resource.from_contents(doc, DRAFT202012))
    validator = Draft202012Validator({"$ref": URN + "#/x-checked"}, registry=registry, format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert not errors, (where, errors[:5])


def test_the_document_has_a_description_for_the_api(document: dict[str, Any]) -> None:
    assert "problem" in document["info"]["description"] and "Bearer" in document["info"]["description"]


def test_every_operation_has_a_description_of_its_own(document: dict[str, Any]) -> None:
    operations = list(_operations(document))
    assert len(operations) >= 51
    for method, path, operation in operations:
        assert operation["operationId"] in OPERATION_DESCRIPTIONS, (method, path)
        description = operation["description"]
        assert len(description) >= 30 and description != operation["summary"], (method, path)
    known = {operation["operationId"] for _, _, operation in operations}
    assert set(OPERATION_DESCRIPTIONS) <= known, set(OPERATION_DESCRIPTIONS) - known  # none left over
    assert set(OPERATION_EXAMPLES) <= known


def test_every_operation_has_examples_that_validate(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        where = (method, path)
        examples = 0
        for parameter in operation.get("parameters", []):
            assert "example" in parameter, (*where, parameter["name"])
            _check(document, parameter["schema"], parameter["example"], (*where, parameter["name"]))
            examples += 1
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            assert "example" in content, where
            _check(document, content["schema"], content["example"], (*where, "body"))
            examples += 1
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if int(status) < 300 and content is not None:
                assert "example" in content, (*where, status)
                _check(document, content["schema"], content["example"], (*where, status))
                examples += 1
        assert examples, f"{method} {path} has no example at all"


def test_every_schema_has_a_description_and_an_example_that_validates(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert len(schemas) >= 70
    for name, schema in schemas.items():
        assert schema.get("description"), name
        assert schema.get("examples"), name
        for example in schema["examples"]:
            _check(document, {"$ref": f"#/components/schemas/{name}"}, example, name)
    assert set(SCHEMA_EXAMPLES) <= schemas.keys(), set(SCHEMA_EXAMPLES) - schemas.keys()
    assert set(SCHEMA_DESCRIPTIONS) <= schemas.keys(), set(SCHEMA_DESCRIPTIONS) - schemas.keys()


def test_a_broken_example_would_be_caught(document: dict[str, Any]) -> None:
    broken = {**SCHEMA_EXAMPLES["Appointment"], "status": "MAYBE"}
    with pytest.raises(AssertionError):
        _check(document, {"$ref": "#/components/schemas/Appointment"}, broken, "broken")
    with pytest.raises(AssertionError):
        _check(document, {"$ref": "#/components/schemas/SlotOut"}, {"date_start": "tomorrow"}, "broken")
    assert PARAMETER_EXAMPLES["id"]


# --------------------------------------------------------------------------- served over HTTP


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("docs")
    rt = Runtime.from_settings(load_settings(environ={}, database_url=f"sqlite:///{tmp / 'a.db'}", data_dir=str(tmp)))
    with serve(rt, threads=4) as server:
        yield server
    rt.close()


def test_the_root_page_links_the_docs_and_health(docs_server: LiveServer) -> None:
    response = requests.get(docs_server.base_url + "/", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    for href in ('href="/api/docs/"', 'href="/api/openapi.json"', 'href="/healthz"', 'href="/readyz"',
                 'href="/problems/"'):  # fmt: skip
        assert href in response.text, href
    assert "Demo" not in response.text
    docs = requests.get(docs_server.base_url + "/api/docs", timeout=30)
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert requests.get(docs_server.base_url + "/api/docs/swagger-ui-bundle.js", timeout=30).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the page does not depend on the database
@pytest.mark.usefixtures("demo")
def test_in_the_demo_the_root_page_links_the_demos_pages(runtime: Runtime) -> None:
    rt = runtime  # holding the demo already (``demo``): run again, as `serve --demo` does on start
    summary = demo_summary(rt, run_demo(rt))  # as `serve --demo` does
    app = create_app(rt=rt)
    links = demo_links(summary)
    assert len(links) >= 3
    set_demo_links(app, links)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "<h2>Demo</h2>" in page
    for label, url in links:
        assert f'<a href="{url}">{label}</a>' in page
        assert client.get(url.removeprefix(rt.settings.public_url.rstrip("/"))).status_code == 200, url
    close_app(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (tests.support.browser)."""
    yield from chromium()


def test_swagger_ui_renders_every_operation_with_no_network(
    docs_server: LiveServer, browser: Any, document: dict[str, Any]
) -> None:
    base = docs_server.base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    foreign: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/")
    page.click("a#docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    count = len(list(_operations(document)))
    page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {count}", timeout=60_000)
    assert page.locator(".opblock").count() == count
    assert page.locator(".info .title").inner_text().startswith("Appointment Service")
    # One operation opened: its description and its request example are shown.
    block = page.locator("#operations-appointments-api_v1_create_appointment")
    block.locator(".opblock-summary").click()
    description = block.locator(".opblock-description-wrapper").first
    description.wait_for(timeout=30_000)
    assert "Idempotency-Key" in description.inner_text()
    assert "Initial consultation Jane Doe" in block.inner_text()
    assert not foreign, foreign
    assert not errors, errors
    context.close()


def test_deprecated_slot_fields_are_marked_and_ics_import_is_documented(document: dict[str, Any]) -> None:
    slot = document["components"]["schemas"]["SlotOut"]["properties"]
    assert {name for name, prop in slot.items() if prop.get("deprecated")} == {"start", "end", "start_utc", "end_utc"}
    assert "date_start" in document["components"]["schemas"]["SlotOut"]["required"]
    body = document["paths"]["/api/v1/import/{format}"]["post"]["requestBody"]["content"]
    assert body["text/calendar"]["schema"]["type"] == "string"
