from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import LiveServer


def test_create_and_read_back(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    assert people.fitter.calendar_id
    created = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id))
    assert created.status_code == 201, created.text
    got = api.get(f"/api/v1/appointments/{created.json()['id']}")
    assert got.status_code == 200
    assert got.json() == created.json()
    assert got.headers["ETag"] == created.headers["ETag"]
