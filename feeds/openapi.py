"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from feeds.operations import Operation, operations_of
from feeds.problems import Problem

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_ERROR_STATUSES = {
    400: "Bad request",
    401: "Missing or invalid API token",
    403: "The token lacks the scope",
    404: "Not found, or not visible to this token",
    409: "Conflict with the appointment's state",
    412: "If-Match did not match the current ETag",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
}


def openapi_document(
    blueprints: list[tuple[Blueprint, str]], *, title: str, version: str, server_url: str
) -> dict[str, Any]:
    """Describe every operation declared on ``blueprints`` (each with its URL prefix)."""
    ops = [(prefix, op) for bp, prefix in blueprints for op in operations_of(bp)]
    models = _models(op for _, op in ops)
    _, defs = models_json_schema(
        [(m, "validation" if _is_input(m, ops) else "serialization") for m in models], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for prefix, op in ops:
        paths.setdefault(prefix + op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


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


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.public:
        doc["security"] = []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for name in _path_params(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        for name, prop in schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            )
    for header in op.headers:
        parameters.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.body)}}}
    elif op.raw_body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.raw_body}}}
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        entry: dict[str, Any] = {"description": "OK" if status < 300 else _ERROR_STATUSES.get(status, "Error")}
        if isinstance(model, type) and issubclass(model, BaseModel):
            entry["content"] = {"application/json": {"schema": _ref(model)}}
        elif isinstance(model, dict):
            entry["content"] = {"application/json": {"schema": model}}
        elif isinstance(model, str):
            entry["description"] = model
            if status >= 400:  # a declared error status answers with a problem document too
                entry["content"] = {"application/problem+json": {"schema": _ref(Problem)}}
        if status in op.response_headers:
            entry["headers"] = {h: {"schema": {"type": "string"}} for h in op.response_headers[status]}
        responses[str(status)] = entry
    for status in _error_statuses(op):
        responses.setdefault(
            str(status),
            {
                "description": _ERROR_STATUSES[status],
                "content": {"application/problem+json": {"schema": _ref(Problem)}},
            },
        )
    doc["responses"] = responses
    return doc


def _error_statuses(op: Operation) -> list[int]:
    statuses = [400, 422]
    if not op.public:
        statuses += [401, 403]
    if "{" in op.path:
        statuses.append(404)
    if op.method in {"POST", "PUT", "PATCH"}:
        statuses += [413, 415]
    if op.method in {"POST", "PUT", "PATCH", "DELETE"} and "{" in op.path:
        statuses += [409, 412]
    return sorted(set(statuses))


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
