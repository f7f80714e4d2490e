"""The emulated org's shape and the rules a real org enforces on every write.

The shape comes from ``fixtures/describe.json``: one entry per object, shaped like the REST API's
``GET /sobjects/{Object}/describe`` answer (``keyPrefix``, object permissions, and per field its
``type``, ``length``, ``nillable``, ``createable``/``updateable`` for the integration user,
``defaultedOnCreate``, ``referenceTo``, ``picklistValues``/``restrictedPicklist``, ``externalId``/``unique``).
A test changes the shape through :class:`OrgShape` (drop or add a custom field, change a picklist,
take a permission away, switch Shared Activities off); the describe answer and the write rules
follow it.

Record ids are made like Salesforce's: a 15-character case-sensitive id (key prefix of the object,
two pod characters, a reserved ``0`` and a 9-character base-62 number) plus the 3-character
case-safe suffix; 15- and 18-character ids are both accepted on input and answered as 18.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "FIXTURE",
    "OrgShape",
    "WriteError",
    "case_safe_id",
    "is_id",
    "make_id",
    "normalise_id",
]

FIXTURE = Path(__file__).with_name("fixtures") / "describe.json"
_SUFFIX = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_CHARS = set(string.ascii_letters + string.digits)
#: Fields that exist only where "Allow Users to Relate Multiple Contacts to Tasks and Events" is on.
SHARED_ACTIVITY_FIELDS = {("Event", "EventWhoIds"), ("EventRelation", "IsWhat"), ("EventRelation", "IsParent")}


class WriteError(Exception):
    """One record's refusal, as Salesforce answers it (``statusCode``, message, fields)."""

    def __init__(self, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields)


def case_safe_id(id15: str) -> str:
    """The 18-character form: three suffix characters, each encoding which of five characters are upper case."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch in string.ascii_uppercase)
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(prefix: str, number: int) -> str:
    """The ``number``-th record id of the object with key ``prefix`` (18 characters)."""
    digits = ""
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return case_safe_id(f"{prefix}Dn0{digits}")


def normalise_id(value: Any) -> str | None:
    """``value`` as an 18-character id, or None when it is not a well-formed 15/18-character id."""
    if not isinstance(value, str) or len(value) not in (15, 18) or not set(value) <= _ID_CHARS:
        return None
    full = case_safe_id(value[:15])
    if len(value) == 18 and full[15:] != value[15:].upper():
        return None
    return full


def is_id(value: Any) -> bool:
    return normalise_id(value) is not None


def _load_fixture() -> dict[str, dict[str, Any]]:
    with FIXTURE.open(encoding="utf-8") as fh:
        data: dict[str, dict[str, Any]] = json.load(fh)
    return data


_BASE_SHAPE = _load_fixture()


class OrgShape:
    """Objects, fields, picklists and the integration user's permissions of one emulated org."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = copy.deepcopy(_BASE_SHAPE)
        self.shared_activities = True
        self.primary_resource_field = True
        self.prefixes = {d["keyPrefix"]: name for name, d in self.objects.items()}

    # ------------------------------------------------------------------ the tests' hands

    def field(self, sobject: str, name: str) -> dict[str, Any] | None:
        """The describe entry of ``sobject.name`` as the org has it now (None: no such field)."""
        if not self._present(sobject, name):
            return None
        for entry in self.objects.get(sobject, {}).get("fields", ()):
            if entry["name"] == name:
                return entry
        return None

    def has_field(self, sobject: str, name: str) -> bool:
        if (sobject, name) in SHARED_ACTIVITY_FIELDS and not self.shared_activities:
            return False
        if (sobject, name) == ("AssignedResource", "IsPrimaryResource") and not self.primary_resource_field:
            return False
        return any(f["name"] == name for f in self.objects.get(sobject, {}).get("fields", ()))

    def drop_field(self, sobject: str, name: str) -> None:
        """The org lacks this (custom) field."""
        fields = self.objects[sobject]["fields"]
        fields[:] = [f for f in fields if f["name"] != name]

    def add_field(self, sobject: str, name: str, type_: str = "string", **props: Any) -> dict[str, Any]:
        """Add (or replace) a custom field; ``props`` override describe keys (``length``, ``picklistValues``…)."""
        self.drop_field(sobject, name)
        entry: dict[str, Any] = {
            "name": name,
            "label": name.removesuffix("__c").replace("_", " "),
            "type": type_,
            "length": 255 if type_ in ("string", "url", "picklist", "email") else 0,
            "nillable": True,
            "createable": True,
            "updateable": True,
            "defaultedOnCreate": False,
            "custom": name.endswith("__c"),
            "externalId": False,
            "unique": False,
            "referenceTo": [],
            "picklistValues": [],
            "restrictedPicklist": False,
            "calculated": False,
            "autoNumber": False,
        }
        entry.update(props)
        self.objects[sobject]["fields"].append(entry)
        return entry

    def set_picklist(self, sobject: str, name: str, values: Iterable[str], *, restricted: bool = True) -> None:
        entry = self.field(sobject, name)
        assert entry is not None, f"{sobject}.{name} is not in the org"
        entry["picklistValues"] = [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in values
        ]
        entry["restrictedPicklist"] = restricted

    def add_picklist_values(self, sobject: str, name: str, values: Iterable[str]) -> None:
        entry = self.field(sobject, name)
        assert entry is not None, f"{sobject}.{name} is not in the org"
        known = {v["value"] for v in entry["picklistValues"]}
        for value in values:
            if value not in known:
                entry["picklistValues"].append(
                    {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
                )
                known.add(value)

    def set_access(self, sobject: str, name: str, *, createable: bool, updateable: bool) -> None:
        """Field-level security of the integration user on one field."""
        entry = self.field(sobject, name)
        assert entry is not None, f"{sobject}.{name} is not in the org"
        entry["createable"], entry["updateable"] = createable, updateable

    def set_object_access(self, sobject: str, **perms: bool) -> None:
        """Object permissions (``createable``, ``updateable``, ``deletable``, ``queryable``)."""
        self.objects[sobject].update(perms)

    # ------------------------------------------------------------------ describe

    def describe(self, sobject: str) -> dict[str, Any]:
        out = {k: v for k, v in self.objects[sobject].items() if k != "fields"}
        out["fields"] = [copy.deepcopy(f) for f in self.fields_of(sobject)]
        return out

    def fields_of(self, sobject: str) -> list[dict[str, Any]]:
        """The describe entries of the fields the org has now (live, not copies: read only)."""
        return [f for f in self.objects[sobject]["fields"] if self._present(sobject, f["name"])]

    def _present(self, sobject: str, name: str) -> bool:
        if (sobject, name) in SHARED_ACTIVITY_FIELDS and not self.shared_activities:
            return False
        return (sobject, name) != ("AssignedResource", "IsPrimaryResource") or self.primary_resource_field

    def describe_global(self) -> dict[str, Any]:
        keys = (
            "name",
            "label",
            "labelPlural",
            "keyPrefix",
            "custom",
            "createable",
            "updateable",
            "deletable",
            "queryable",
            "retrieveable",
            "searchable",
            "triggerable",
            "undeletable",
            "replicateable",
            "urls",
        )
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [{k: d.get(k) for k in keys} for d in self.objects.values()],
        }

    def sobject_of(self, record_id: str) -> str | None:
        return self.prefixes.get(record_id[:3])

    # ------------------------------------------------------------------ rules

    def unknown_fields(self, sobject: str, names: Iterable[str]) -> list[str]:
        return [n for n in names if "." not in n and not self.has_field(sobject, n)]

    def check_write(
        self,
        sobject: str,
        fields: Mapping[str, Any],
        *,
        creating: bool,
        exists: Callable[[str, str], bool],
        as_api: bool = True,
    ) -> dict[str, Any]:
        """The fields as stored (ids as 18 characters), or :class:`WriteError` as the org would answer.

        ``as_api`` false is the seeding path (a test's own data, as an admin or the platform loads it):
        read-only fields may be set and required fields may be left out, but fields must exist and
        references, picklists and lengths must hold.
        """
        desc = self.objects[sobject]
        if as_api and not desc.get("createable" if creating else "updateable", True):
            raise WriteError("INSUFFICIENT_ACCESS_OR_READONLY", f"insufficient access rights on object {sobject}", [])
        unknown = self.unknown_fields(sobject, fields)
        if unknown:
            raise WriteError("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", unknown)
        out: dict[str, Any] = {}
        for name, value in fields.items():
            entry = self.field(sobject, name)
            assert entry is not None
            if as_api and not entry["createable" if creating else "updateable"]:
                raise WriteError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. Please check the security settings of this field "
                    "and verify that it is read/write for your profile or permission set.",
                    [name],
                )
            out[name] = self._value(sobject, entry, value, exists)
        if as_api and creating:
            missing = [
                f["name"]
                for f in self.fields_of(sobject)
                if f["createable"]
                and not f["nillable"]
                and not f["defaultedOnCreate"]
                and f["type"] != "boolean"
                and out.get(f["name"]) in (None, "")
            ]
            if missing:
                raise WriteError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        return out

    @staticmethod
    def _text(entry: dict[str, Any], value: Any) -> str:
        """A text-like field's value: a string within the field's length (and its restricted picklist)."""
        name = entry["name"]
        if not isinstance(value, str):
            raise WriteError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{entry['label']}: value not of required type", [name])
        if entry["length"] and len(value) > entry["length"]:
            raise WriteError(
                "STRING_TOO_LONG",
                f"{entry['label']}: data value too large: {value[:40]}… (max length={entry['length']})",
                [name],
            )
        if entry["type"] == "picklist" and entry["restrictedPicklist"]:
            allowed = {v["value"] for v in entry["picklistValues"] if v["active"]}
            if value not in allowed:
                raise WriteError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{entry['label']}: bad value for restricted picklist field: {value}",
                    [name],
                )
        return value

    def _value(self, sobject: str, entry: dict[str, Any], value: Any, exists: Callable[[str, str], bool]) -> Any:
        name, type_ = entry["name"], entry["type"]
        if value is None or (value == "" and type_ not in ("string", "textarea", "combobox")):
            if not entry["nillable"] and type_ != "boolean":
                raise WriteError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])
            return None
        if type_ in ("reference", "JunctionIdList"):
            values = value if type_ == "JunctionIdList" else [value]
            if not isinstance(values, list):
                raise WriteError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{entry['label']}: not a list of ids", [name])
            refs = [self._reference(entry, v, exists) for v in values]
            return refs if type_ == "JunctionIdList" else refs[0]
        if type_ in ("string", "textarea", "combobox", "email", "phone", "url", "picklist"):
            return self._text(entry, value)
        if type_ == "boolean":
            if not isinstance(value, bool):
                raise WriteError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{entry['label']}: value not of required type: {value}", [name]
                )
            return value
        if type_ in ("int", "double", "currency"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise WriteError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{entry['label']}: value not of required type: {value}", [name]
                )
            return value
        if type_ in ("datetime", "date"):
            try:
                if type_ == "date":
                    date.fromisoformat(str(value)[:10])
                else:
                    datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise WriteError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{entry['label']}: value not of required type: {value}", [name]
                ) from None
            return value
        return value

    def _reference(self, entry: dict[str, Any], value: Any, exists: Callable[[str, str], bool]) -> str:
        rid = normalise_id(value)
        if rid is None:
            raise WriteError("MALFORMED_ID", f"{entry['label']}: id value of incorrect type: {value}", [entry["name"]])
        target = self.sobject_of(rid)
        if target is None or target not in entry["referenceTo"] or not exists(target, rid):
            raise WriteError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {entry['label']}: {value}",
                [entry["name"]],
            )
        return rid

    def unique_fields(self, sobject: str) -> list[str]:
        return [f["name"] for f in self.fields_of(sobject) if f.get("unique") and f["name"] != "Id"]

    def defaults(self, sobject: str) -> dict[str, Any]:
        """Values a new record gets for fields left out (picklist defaults, false booleans)."""
        out: dict[str, Any] = {}
        for f in self.fields_of(sobject):
            if not f["createable"] and not f.get("defaultedOnCreate"):
                continue
            if f["type"] == "boolean" and f.get("defaultedOnCreate"):
                out[f["name"]] = bool(f.get("defaultValue"))
            elif f["type"] == "picklist" and f.get("defaultValue"):
                out[f["name"]] = f["defaultValue"]
        return out
