"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from feeds.openapi_examples import (
    OPERATION_DESCRIPTIONS,
    OPERATION_EXAMPLES,
    PARAMETER_EXAMPLES,
    SCHEMA_DESCRIPTIONS,
    SCHEMA_EXAMPLES,
)
from feeds.operations import MAX_HEADER, MAX_PATH_PARAM, Operation, operations_of
from feeds.problems import Problem

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_DESCRIPTION = (
    "The Appointment Service's REST API: canonical appointments (`/api/v1`), scheduling and bookings, feeds, "
    "webhooks, interchange with other systems' formats, and the legacy OLS shape (`/ols`).\n\n"
    "Authenticate with `Authorization: Bearer <token>` (scopes read ⊂ write ⊂ admin). Every error is an RFC 9457 "
    "`application/problem+json` document whose `type` links a page explaining it (`/problems/`)."
)
_ERROR_STATUSES = {
    400: "Bad request",
    401: "Missing or invalid API token",
    403: "The token lacks the scope",
    404: "Not found, or not visible to this token",
    409: "Conflict with the appointment's state",
    412: "If-Match did not match the current ETag",
    413: "Request body too large",
    422: "Invalid request",
    429: "Too many requests",
}


def openapi_document(
    blueprints: Sequence[tuple[Blueprint, str]], *, title: str, version: str, server_url: str
) -> dict[str, Any]:
    """Describe every operation declared on ``blueprints`` (each with its URL prefix).

    Made once per process for the same arguments (the operations are declared at import; the schemas
    took half of building an app, which every worker and test server does): the document is shared, read it only.
    """
    return _document(tuple(blueprints), title, version, server_url)


@functools.lru_cache(maxsize=8)
def _document(
    blueprints: tuple[tuple[Blueprint, str], ...], title: str, version: str, server_url: str
) -> dict[str, Any]:
    ops = [(prefix, op) for bp, prefix in blueprints for op in operations_of(bp)]
    models = _models(op for _, op in ops)
    _, defs = models_json_schema(
        [(m, "validation" if _is_input(m, ops) else "serialization") for m in models], ref_template=_REF
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for prefix, op in ops:
        paths.setdefault(prefix + op.path, {})[op.method.lower()] = _operation(op, schemas)
    _describe_schemas(schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": _DESCRIPTION},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _describe_schemas(schemas: dict[str, Any]) -> None:
    """Give every schema a description (its model's docstring, else the catalogue's) and its example."""
    for name, schema in schemas.items():
        if not schema.get("description") and name in SCHEMA_DESCRIPTIONS:
            schema["description"] = SCHEMA_DESCRIPTIONS[name]
        if name in SCHEMA_EXAMPLES:
            schema["examples"] = [SCHEMA_EXAMPLES[name]]


def _is_input(model: type[BaseModel], ops: list[tuple[str, Operation]]) -> bool:
    return any(model in (op.body, op.query) for _, op in ops)


def _models(ops: Any) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Problem": Problem}
    for op in ops:
        candidates = [op.body, *op.responses.values()]
        for model in candidates:
            if isinstance(model, type) and issubclass(model, BaseModel):
                seen[model.__name__] = model
    return list(seen.values())


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    examples = OPERATION_EXAMPLES.get(op.operation_id, {})
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": OPERATION_DESCRIPTIONS.get(op.operation_id, op.summary),
        "tags": [op.tag],
    }
    if op.public:
        doc["security"] = []
    parameters = [*_path_parameters(op), *_query_parameters(op, schemas), *_header_parameters(op)]
    if parameters:
        doc["parameters"] = parameters
    body = _request_body(op, schemas, examples.get("request"))
    if body is not None:
        doc["requestBody"] = body
    doc["responses"] = _responses(op, schemas, examples.get("response"))
    return doc


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        _with_example(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM},
            }
        )
        for name in _path_params(op.path)
    ]


def _query_parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(ref_template=_REF)
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "schema": _query_schema(prop),
        }
        if prop.get("description"):
            parameter["description"] = prop["description"]
        parameters.append(_with_example(parameter))
    return parameters


def _header_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        _with_example(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": {"type": "string", "maxLength": MAX_HEADER},
            }
        )
        for header in op.headers
    ]


def _with_example(parameter: dict[str, Any]) -> dict[str, Any]:
    """The parameter with an example: its schema's own (inline, or the example of the schema it refers to),
    else the catalogue's for its name. One name can mean different things in different operations (``kind`` of a
    message, ``kind`` of a listing); the schema's example is the one that fits."""
    schema = parameter["schema"]
    own = (schema.get("examples") or [None])[0]
    if own is None and "$ref" in schema:
        own = SCHEMA_EXAMPLES.get(schema["$ref"].rsplit("/", 1)[-1])
    example = own if own is not None else PARAMETER_EXAMPLES.get(parameter["name"])
    if example is not None:
        parameter["example"] = example
    return parameter


def _request_body(op: Operation, schemas: dict[str, Any], example: Any) -> dict[str, Any] | None:
    if op.body is not None:
        schema: dict[str, Any] = _ref(op.body)
        example = SCHEMA_EXAMPLES.get(op.body.__name__) if example is None else example
    elif op.raw_body is not None:
        schema = op.raw_body
    else:
        return None
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content, **_other_bodies(op)}}


def _other_bodies(op: Operation) -> dict[str, Any]:
    return {media: {"schema": schema} for media, schema in op.other_bodies.items()}


def _responses(op: Operation, schemas: dict[str, Any], example: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        entry: dict[str, Any] = {"description": "OK" if status < 300 else _ERROR_STATUSES.get(status, "Error")}
        if status >= 400 and (model is None or isinstance(model, str)):  # a problem, described by the route
            entry["content"] = {"application/problem+json": {"schema": _ref(Problem)}}
        if isinstance(model, type) and issubclass(model, BaseModel):
            content = {"schema": _ref(model)}
            success_example = example if example is not None else SCHEMA_EXAMPLES.get(model.__name__)
            if status < 300 and success_example is not None:
                content["example"] = success_example
            entry["content"] = {"application/json": content}
        elif isinstance(model, dict):
            entry["content"] = {"application/json": {"schema": model}}
            if status < 300 and example is not None:
                entry["content"]["application/json"]["example"] = example
        elif isinstance(model, str):
            entry["description"] = model
        if status in op.response_headers:
            entry["headers"] = {name: _response_header(name) for name in op.response_headers[status]}
        responses[str(status)] = entry
    for status in _error_statuses(op):
        error: dict[str, Any] = {
            "description": _ERROR_STATUSES[status],
            "content": {"application/problem+json": {"schema": _ref(Problem)}},
        }
        if status == 401:
            error["headers"] = {"WWW-Authenticate": _response_header("WWW-Authenticate")}
        responses.setdefault(str(status), error)
    return responses


def _error_statuses(op: Operation) -> list[int]:
    """The problem statuses ``op`` can answer with (every one of them ``application/problem+json``).

    Any authenticated operation may name something the token does not reach (in its path, query or
    body): 404. Any change may conflict with the current state (a status, a taken slot): 409.
    """
    statuses = [400, 422]
    if not op.public:
        statuses += [401, 403, 404]
    if "{" in op.path:
        statuses.append(404)
    if op.method in {"POST", "PUT", "PATCH"}:
        statuses.append(413)
    if op.method in {"POST", "PUT", "PATCH", "DELETE"} and not op.public:
        statuses.append(409)
    if any(header.name == "If-Match" for header in op.headers):
        statuses.append(412)
    return sorted(set(statuses))


#: Response headers the routes send: their description, and whether they are always sent where declared.
_RESPONSE_HEADERS: dict[str, tuple[str, bool]] = {
    "ETag": ("The current version: send it as If-Match to change the resource only if it is unchanged", True),
    "Location": ("The URL of the created resource", True),
    "Link": ('The next page, as `<url>; rel="next"`; absent on the last page', False),
    "WWW-Authenticate": ("The scheme to authenticate with: Bearer", True),
    "Idempotent-Replayed": ("`true`: the first answer to an earlier request with the same Idempotency-Key", False),
    "Idempotent-Secret-Withheld": (
        "On a replay only: the fields set to null because they hold a secret that was shown once, in the first "
        "answer (it is stored hashed, so it cannot be shown again; rotate or re-issue to get a new one)",
        False,
    ),
}


def _response_header(name: str) -> dict[str, Any]:
    description, required = _RESPONSE_HEADERS.get(name, ("", False))
    header: dict[str, Any] = {"required": required, "schema": {"type": "string", "minLength": 1}}
    if description:
        header["description"] = description
    return header


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional query field's schema without its ``null`` branch: a query string cannot say null.

    Leaving the parameter out is how a client asks for no filter.
    """
    prop = {key: value for key, value in prop.items() if not (key == "default" and value is None)}
    branches = prop.get("anyOf")
    if isinstance(branches, list):
        kept = [branch for branch in branches if branch != {"type": "null"}]
        rest = {key: value for key, value in prop.items() if key != "anyOf"}
        return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    return prop


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
