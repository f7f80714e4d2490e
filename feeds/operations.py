"""Declared HTTP operations: one declaration validates the request and documents it in OpenAPI.

``@operation(bp, "POST", "/appointments", body=AppointmentDraft, ...)`` registers a Flask route
whose JSON body and query string are validated by the same pydantic models that
:mod:`feeds.openapi` turns into the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError

from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.services.validation import field_errors

__all__ = ["Header", "Operation", "operation", "operations_of", "read_json"]

F = TypeVar("F", bound=Callable[..., Any])
_REGISTRY: dict[str, list[Operation]] = {}


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    operation_id: str
    tag: str
    body: type[BaseModel] | None = None
    raw_body: dict[str, Any] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)
    headers: tuple[Header, ...] = ()
    response_headers: dict[int, tuple[str, ...]] = field(default_factory=dict)
    public: bool = False


def operations_of(blueprint: Blueprint) -> list[Operation]:
    return list(_REGISTRY.get(blueprint.name, []))


def operation(
    blueprint: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    raw_body: dict[str, Any] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, Any],
    headers: tuple[Header, ...] = (),
    response_headers: dict[int, tuple[str, ...]] | None = None,
    public: bool = False,
) -> Callable[[F], F]:
    """Register ``path`` (OpenAPI style, ``{id}``) on ``blueprint`` and in the OpenAPI registry.

    The view receives ``body=`` (a validated ``body`` model) and ``query=`` (a validated ``query``
    model) as keyword arguments when those are declared.
    """

    def decorate(view: F) -> F:
        op = Operation(
            method=method,
            path=path,
            summary=summary,
            operation_id=f"{blueprint.name}_{view.__name__}",
            tag=tag,
            body=body,
            raw_body=raw_body,
            query=query,
            responses=responses,
            headers=headers,
            response_headers=response_headers or {},
            public=public,
        )
        _REGISTRY.setdefault(blueprint.name, []).append(op)

        def endpoint(**kwargs: Any) -> Any:
            if query is not None:
                kwargs["query"] = _validate(query, _query_dict(), "query")
            if body is not None:
                kwargs["body"] = _validate(body, read_json(), "")
            return view(**kwargs)

        rule = path.replace("{", "<").replace("}", ">")
        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=endpoint, methods=[method])
        return view

    return decorate


def read_json() -> Any:
    """The request body as JSON; a clear 4xx for a missing, mistyped or malformed body."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise ValidationFailed(
            [FieldError("(body)", "send a JSON body with Content-Type: application/json")],
            "unsupported or missing Content-Type",
        )
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed([FieldError("(body)", f"malformed JSON: {exc}")]) from exc


def _query_dict() -> dict[str, Any]:
    """The query string; a repeated key keeps its first value."""
    return {key: request.args.get(key) for key in request.args}


def _validate(model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix=prefix)) from exc
