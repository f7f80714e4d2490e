"""Declared HTTP operations: one declaration validates the request and documents it in OpenAPI.

``@operation(bp, "POST", "/appointments", body=AppointmentDraft, ...)`` registers a Flask route
whose JSON body and query string are validated by the same pydantic models that
:mod:`feeds.openapi` turns into the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, request
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BaseConverter, Map

from caldav_bridge.errors import FieldError, MalformedBody, ValidationFailed
from caldav_bridge.services.actor import Channel
from caldav_bridge.services.validation import field_errors
from feeds.auth import current_actor
from feeds.idempotency import HEADER as IDEMPOTENCY_HEADER
from feeds.idempotency import idempotent as make_idempotent

__all__ = [
    "IDEMPOTENCY_KEY",
    "Header",
    "Operation",
    "SegmentConverter",
    "check_path_args",
    "operation",
    "operations_of",
    "read_json",
    "validated_query",
]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)
#: Limits the document states and :func:`operation` enforces.
MAX_PATH_PARAM = 64
MAX_HEADER = 255
MAX_DEPTH = 32
_REGISTRY: dict[str, list[Operation]] = {}


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    required: bool = False


#: The header every creating POST and every REST change honours (``operation(..., idempotent=True)`` declares it).
IDEMPOTENCY_KEY = Header(
    IDEMPOTENCY_HEADER,
    "Repeat a request safely: a repeat with the same key and the same request gets the first answer again "
    "(nothing is created or changed twice: a retried move does not undo a later one); the same key with another "
    "request is a 422. Keys are per API token and kept for `idempotency_ttl_hours` (default 24 h).",
)


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
    #: Other media types the body may have (read by the view itself), with their schemas.
    other_bodies: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    channel: Channel | None = None,
    other_bodies: dict[str, dict[str, Any]] | None = None,
    idempotent: bool = False,
    announce_replay: bool = True,
    withhold_on_replay: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Register ``path`` (OpenAPI style, ``{id}``) on ``blueprint`` and in the OpenAPI registry.

    The view receives ``body=`` (a validated ``body`` model) and ``query=`` (a validated ``query``
    model) as keyword arguments when those are declared. Unless ``public``, the caller's token is
    checked first (as ``channel``, by default ``"ols"`` on the ``ols`` blueprint, else ``"api"``), so
    a request without a valid token gets 401 whatever its body, and learns nothing about validation.

    ``idempotent``: the operation honours ``Idempotency-Key`` (:mod:`feeds.idempotency`; the header is declared);
    ``announce_replay`` marks a replayed answer with ``Idempotent-Replayed: true``; ``withhold_on_replay``: the
    answer's fields that hold a secret shown once, never kept, replayed as ``null`` (``Idempotent-Secret-Withheld``).
    """
    auth_channel = channel or ("ols" if blueprint.name == "ols" else "api")
    if idempotent and IDEMPOTENCY_KEY not in headers:
        headers = (*headers, IDEMPOTENCY_KEY)
    if idempotent and announce_replay:
        response_headers = dict(response_headers or {})
        for status in (s for s in responses if s < 300):
            response_headers[status] = (*response_headers.get(status, ()), "Idempotent-Replayed")
            if withhold_on_replay:
                response_headers[status] = (*response_headers[status], "Idempotent-Secret-Withheld")

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
            other_bodies=other_bodies or {},
        )
        _REGISTRY.setdefault(blueprint.name, []).append(op)
        run = make_idempotent(view, announce=announce_replay, withhold=withhold_on_replay) if idempotent else view

        def endpoint(**kwargs: Any) -> Any:
            if not public:
                current_actor(auth_channel)
            _check_path_and_headers(kwargs, headers)
            if query is not None:
                kwargs["query"] = validated_query(query, request.args)
            if body is not None:
                kwargs["body"] = _validate(body, read_json(), "")
            return run(**kwargs)

        def register(state: BlueprintSetupState) -> None:
            # At registration every operation of the blueprint is known, so the rule can give way to them.
            state.app.url_map.converters.setdefault("segment", SegmentConverter)
            rule = _rule(path, [op.path for op in _REGISTRY[blueprint.name]])
            state.add_url_rule(rule, endpoint=view.__name__, view_func=endpoint, methods=[method])

        blueprint.record(register)
        return view

    return decorate


class SegmentConverter(BaseConverter):
    """One path segment other than the literals given: ``<segment("fetches"):token_id>``."""

    def __init__(self, url_map: Map, *literals: str) -> None:
        super().__init__(url_map)
        self.regex = "(?!(?:" + "|".join(re.escape(literal) for literal in literals) + r")\Z)[^/]+"


def _rule(path: str, paths: list[str]) -> str:
    """``path`` as a Flask rule in which a parameter never matches a literal that another path has there.

    As in OpenAPI, a concrete path wins over a templated one: ``DELETE …/feeds/fetches`` is a 405
    (only GET is declared there), not a ``DELETE …/feeds/{token_id}`` with ``token_id="fetches"``.
    """
    parts = path.split("/")
    rule = []
    for i, part in enumerate(parts):
        if not _is_param(part):
            rule.append(part)
            continue
        literals = sorted({other[i] for other in (p.split("/") for p in paths) if _shadowed(parts, other, i)})
        args = ", ".join(json.dumps(literal) for literal in literals)
        rule.append(f"<segment({args}):{part[1:-1]}>" if literals else f"<{part[1:-1]}>")
    return "/".join(rule)


def _shadowed(parts: list[str], other: list[str], i: int) -> bool:
    """Whether ``other`` has a literal at ``i`` where ``parts`` has a parameter, and could match the rest."""
    return (
        len(other) == len(parts)
        and not _is_param(other[i])
        and all(
            a == b or _is_param(a) or _is_param(b) for j, (a, b) in enumerate(zip(parts, other, strict=True)) if j != i
        )
    )


def _is_param(part: str) -> bool:
    return part.startswith("{") and part.endswith("}")


def read_json() -> Any:
    """The request body as JSON: 422 for a missing or mistyped Content-Type, 400 for a body that is not JSON."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise ValidationFailed(
            [FieldError("(body)", "send a JSON body with Content-Type: application/json")],
            "unsupported or missing Content-Type",
        )
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody([FieldError("(body)", f"malformed JSON: {exc}")]) from exc
    except RecursionError as exc:
        raise MalformedBody([FieldError("(body)", f"JSON nested deeper than {MAX_DEPTH} levels")]) from exc
    return _checked(data, "")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number as a float; one past a float's range (``1e400``) is refused, not kept as infinity (which no
    JSON document can hold: stored, it broke every later read of the appointment's JSON)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _checked(data: Any, prefix: str) -> Any:
    """``data`` unless it holds text no database column can store or is nested too deeply: then a 422.

    PostgreSQL refuses NUL characters in text and every store needs valid Unicode (a lone UTF-16
    surrogate cannot be encoded), so both are refused here, at the edge, naming the field.
    """
    errors: list[FieldError] = []
    _walk(data, prefix, 0, errors)
    if errors:
        raise ValidationFailed(errors[:20])
    return data


def _walk(value: Any, path: str, depth: int, errors: list[FieldError]) -> None:
    if depth > MAX_DEPTH:
        errors.append(FieldError(path or "(body)", f"nested deeper than {MAX_DEPTH} levels"))
    elif isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            errors.append(FieldError(path or "(body)", problem))
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = _text_problem(str(key))
            if problem:
                errors.append(FieldError(where, f"key: {problem}"))
            _walk(item, where, depth + 1, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}" if path else str(index), depth + 1, errors)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds an unpaired surrogate)"
    return None


def check_path_args(path_args: Mapping[str, Any]) -> None:
    """Path parameters within the limits the document gives them (ValidationFailed if not)."""
    _check_path_and_headers(path_args, ())


def validated_query(model: type[M], args: MultiDict[str, str]) -> M:
    """The query string ``args`` (a repeated key keeps its first value) as ``model`` (ValidationFailed if not)."""
    data = {key: args.get(key) for key in args}
    validated: M = _validate(model, _checked(data, "query"), "query")
    return validated


def _check_path_and_headers(path_args: Mapping[str, Any], headers: tuple[Header, ...]) -> None:
    """Path parameters and declared headers within the limits the document gives them."""
    errors: list[FieldError] = []
    for name, value in path_args.items():
        problem = _text_problem(value) if isinstance(value, str) else None
        if problem is None and isinstance(value, str) and len(value) > MAX_PATH_PARAM:
            problem = f"at most {MAX_PATH_PARAM} characters"
        if problem:
            errors.append(FieldError(name, problem))
    for header in headers:
        value = request.headers.get(header.name)
        if value is None:
            if header.required:
                errors.append(FieldError(header.name, "required header"))
            continue
        problem = _text_problem(value)
        if problem is None and len(value) > MAX_HEADER:
            problem = f"at most {MAX_HEADER} characters"
        if problem:
            errors.append(FieldError(header.name, problem))
    if errors:
        raise ValidationFailed(errors)


def _validate(model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix=prefix)) from exc
