"""The emulator answers like a real org: the unmodified simple-salesforce client over loopback."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.api import SFType
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest, SalesforceRefusedRequest

from caldav_bridge.converters.salesforce import format_sf_datetime
from sf_emulator.emulator import RedirectSession, SalesforceEmulator, running_emulator
from sf_emulator.org import case_safe_id, normalise_id
from tests.salesforce.conftest import add_opportunity

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


def client(emu: SalesforceEmulator) -> Salesforce:
    return Salesforce(
        instance_url=f"https://{emu.host}",
        session_id=emu.issue_session(),
        session=RedirectSession(emu.base_url),
    )


def sf_type(sf: Salesforce, name: str) -> SFType:
    """``sf.<name>`` typed: simple-salesforce's ``__getattr__`` is typed as any of its handlers."""
    handler = getattr(sf, name)
    assert isinstance(handler, SFType), handler
    return handler


def event(owner: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "Subject": "Fitting",
        "StartDateTime": format_sf_datetime(T0),
        "EndDateTime": format_sf_datetime(T0 + timedelta(hours=1)),
        "OwnerId": owner,
        **extra,
    }


def code_of(exc: pytest.ExceptionInfo[SalesforceError]) -> str:
    content = exc.value.content
    assert isinstance(content, list), content
    return str(content[0]["errorCode"])


@pytest.fixture
def sf(emulator: SalesforceEmulator) -> Salesforce:
    return client(emulator)


def test_ids_have_the_key_prefix_and_the_case_safe_suffix(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    prefixes = {
        "Event": "00U",
        "Opportunity": "006",
        "Contact": "003",
        "Lead": "00Q",
        "User": "005",
        "ServiceAppointment": "08p",
        "ServiceResource": "0Hn",
        "AssignedResource": "03r",
        "WorkType": "08q",
        "ServiceTerritory": "0Hh",
        "EventRelation": "0RE",
    }
    for sobject, prefix in prefixes.items():
        assert emulator.org.describe(sobject)["keyPrefix"] == prefix
    made = sf_type(sf, "Contact").create({"LastName": "Doe"})["id"]
    assert made.startswith("003") and len(made) == 18
    assert set(made[:15]) & set(string.ascii_uppercase), "ids are case-sensitive: the suffix must matter"
    assert case_safe_id(made[:15]) == made
    # the 15-character form reaches the same record and is answered in 18 characters
    assert sf_type(sf, "Contact").get(made[:15])["Id"] == made
    # an 18-character id whose suffix does not fit its case is malformed, not found elsewhere
    bad = made[:15].swapcase() + made[15:]
    assert normalise_id(bad) is None
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Contact").get(bad)
    assert code_of(exc) == "MALFORMED_ID"


def test_references_must_exist_and_have_the_right_type(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    owner = emulator.create("User", {"Name": "Fitter", "Email": "f@example.com", "IsActive": True})
    contact = emulator.create("Contact", {"LastName": "Doe"})
    opportunity = add_opportunity(emulator)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, WhatId="OPPORTUNITY_GID"))
    assert code_of(exc) == "MALFORMED_ID"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, WhatId="006000000000999AAA"))  # well-formed, no such Opportunity
    assert code_of(exc) == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, WhoId=opportunity))  # a Who is a Contact or Lead
    assert code_of(exc) == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(None))
    assert code_of(exc) == "REQUIRED_FIELD_MISSING"
    made = sf_type(sf, "Event").create(event(owner, WhatId=opportunity[:15], WhoId=contact))["id"]
    stored = sf_type(sf, "Event").get(made)
    assert stored["WhatId"] == opportunity and stored["WhoId"] == contact
    # left out, the owner is the integration user (defaulted on create)
    assert (
        sf_type(sf, "Event").get(sf_type(sf, "Event").create(event(owner) | {"OwnerId": owner})["id"])["OwnerId"]
        == owner
    )
    left_out = {k: v for k, v in event(owner).items() if k != "OwnerId"}
    assert sf_type(sf, "Event").get(sf_type(sf, "Event").create(left_out)["id"])["OwnerId"] == emulator.integration_user


def test_required_fields_picklists_lengths_and_read_only_fields(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    owner = emulator.create("User", {"Name": "Fitter", "Email": "f@example.com", "IsActive": True})
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("Event", {"Subject": "no time", "OwnerId": owner}, "REQUIRED_FIELD_MISSING"),
        ("Event", event(owner, Appointment_Status__c="Cancelled"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ("Event", event(owner, ShowAs="Maybe"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ("Event", event(owner, Subject="x" * 256), "STRING_TOO_LONG"),
        ("Event", event(owner, Location="y" * 256), "STRING_TOO_LONG"),
        ("Event", event(owner, AccountId=None), "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("Event", event(owner, IsAllDayEvent="yes"), "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        ("Event", event(owner, No_Such_Field__c="x"), "INVALID_FIELD"),
        ("ServiceAppointment", {"Subject": "no parent"}, "REQUIRED_FIELD_MISSING"),
        ("Contact", {"FirstName": "No last name"}, "REQUIRED_FIELD_MISSING"),
        ("Contact", {"LastName": "Doe", "Name": "Computed"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ]
    for sobject, body, code in cases:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            getattr(sf, sobject).create(body)
        assert code_of(exc) == code, (sobject, body)
    assert emulator.live("ServiceAppointment") == [] and len(emulator.live("Event")) == 0
    made = sf_type(sf, "Event").create(event(owner, Subject="x" * 255))["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:  # series fields are create-only
        sf_type(sf, "Event").update(made, {"IsRecurrence": True})
    assert code_of(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_the_org_shape_is_set_per_test(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    owner = emulator.create("User", {"Name": "Fitter", "Email": "f@example.com", "IsActive": True})
    emulator.org.drop_field("Event", "Appointment_Type__c")
    emulator.org.set_picklist("Event", "Appointment_Status__c", ["Scheduled", "Cancelled"])
    emulator.org.set_access("Event", "Location", createable=False, updateable=False)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, Appointment_Type__c="INITIAL"))
    assert code_of(exc) == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id, Appointment_Type__c FROM Event")
    assert code_of(exc) == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, Location="Shop"))
    assert code_of(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    sf_type(sf, "Event").create(event(owner, Appointment_Status__c="Cancelled"))
    described = {f["name"]: f for f in sf_type(sf, "Event").describe()["fields"]}
    assert "Appointment_Type__c" not in described
    assert [v["value"] for v in described["Appointment_Status__c"]["picklistValues"]] == ["Scheduled", "Cancelled"]
    assert described["Location"]["createable"] is False and "EventWhoIds" in described
    emulator.shared_activities = False
    assert "EventWhoIds" not in {f["name"] for f in sf_type(sf, "Event").describe()["fields"]}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, EventWhoIds=[]))
    assert code_of(exc) == "INVALID_FIELD"


def test_describe_is_shaped_like_the_real_answer(sf: Salesforce) -> None:
    for sobject in (
        "Event",
        "ServiceAppointment",
        "AssignedResource",
        "ServiceResource",
        "User",
        "Contact",
        "Lead",
        "Opportunity",
        "EventRelation",
    ):
        answer = getattr(sf, sobject).describe()
        assert answer["name"] == sobject and len(answer["keyPrefix"]) == 3
        assert {"createable", "updateable", "queryable", "fields", "urls"} <= set(answer)
        for f in answer["fields"]:
            assert {
                "name",
                "type",
                "length",
                "nillable",
                "createable",
                "updateable",
                "referenceTo",
                "picklistValues",
                "restrictedPicklist",
                "externalId",
                "unique",
                "defaultedOnCreate",
            } <= set(f)
    ext = next(f for f in sf_type(sf, "Event").describe()["fields"] if f["name"] == "Appointment_Service_Id__c")
    assert ext["externalId"] and ext["unique"] and ext["custom"]
    status = next(f for f in sf_type(sf, "ServiceAppointment").describe()["fields"] if f["name"] == "StatusCategory")
    assert status["createable"] is False and status["updateable"] is False
    org = sf.describe()
    assert org is not None
    assert {o["name"] for o in org["sobjects"]} >= {"Event", "ServiceAppointment", "EventRelation"}


def test_duplicate_external_id_and_per_record_errors_in_composite_calls(
    emulator: SalesforceEmulator, sf: Salesforce
) -> None:
    owner = emulator.create("User", {"Name": "Fitter", "Email": "f@example.com", "IsActive": True})
    sf_type(sf, "Event").create(event(owner, Appointment_Service_Id__c="a-1"))
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf_type(sf, "Event").create(event(owner, Appointment_Service_Id__c="a-1"))
    assert code_of(exc) == "DUPLICATE_VALUE"
    records = [
        {"attributes": {"type": "Event"}, **event(owner, Subject="good")},
        {"attributes": {"type": "Event"}, **event(owner, WhatId="OPPORTUNITY_GID")},
        {"attributes": {"type": "Event"}, **event(owner, Appointment_Status__c="Cancelled")},
    ]
    answer = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert isinstance(answer, list), answer
    assert [r["success"] for r in answer] == [True, False, False]
    assert [r["errors"][0]["statusCode"] for r in answer[1:]] == [
        "MALFORMED_ID",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    before = len(emulator.live("Event"))
    answer = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert isinstance(answer, list), answer
    assert [r["errors"][0]["statusCode"] for r in answer] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "MALFORMED_ID",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    assert len(emulator.live("Event")) == before, "nothing is written when allOrNone fails"


def test_daily_api_counter_in_limits_and_the_header() -> None:
    with running_emulator(SalesforceEmulator(api_limit=5)) as emu:
        sf = client(emu)
        assert sf.limits()["DailyApiRequests"] == {"Max": 5, "Remaining": 5}  # /limits is free
        sf.query("SELECT Id FROM Contact")
        sf.query("SELECT Id FROM Contact")
        assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 5
        assert sf.limits()["DailyApiRequests"]["Remaining"] == 3
        for _ in range(3):
            sf.query("SELECT Id FROM Contact")
        with pytest.raises(SalesforceRefusedRequest) as exc:
            sf.query("SELECT Id FROM Contact")
        assert code_of(exc) == "REQUEST_LIMIT_EXCEEDED"
        assert sf.limits()["DailyApiRequests"]["Remaining"] == 0
