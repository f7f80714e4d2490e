"""The demo users sign in over CalDAV with the credentials ``serve --demo`` prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from caldav_bridge.demo import TEAM, seed_demo
from tests.caldav.conftest import client_for
from tests.support.live import LiveServer


@pytest.mark.usefixtures("demo")
def test_demo_users_see_their_calendars(live: LiveServer) -> None:
    # The demo is in the database already (the conftest's ``demo``): seeded again, as ``serve --demo`` does on
    # start, it adds nothing and gives the users with the secrets it prints.
    result = seed_demo(live.runtime.uow(), live.runtime.settings.data_dir)
    users = {u["username"]: u for u in result.users if "username" in u}
    fitter = users["fitter.denver"]
    calendars = client_for(live, "fitter.denver", fitter["password"]).principal().calendars()
    assert [c.url.path for c in calendars] == ["/dav/fitter.denver/appointments/"]
    now = datetime.now(UTC)
    events = calendars[0].search(start=now - timedelta(days=60), end=now + timedelta(days=60), event=True)
    assert events, "the demo appointments read back over CalDAV"
    assert all("BEGIN:VTIMEZONE" in e.data for e in events)
    with live.runtime.uow() as uow:
        team = uow.calendars.find(TEAM, "team")
        assert team is not None
    team_url = f"{live.base_url}/dav/_calendars/{team.id}/"
    tech = client_for(live, "tech.anna", users["tech.anna"]["password"])
    assert tech.calendar(url=team_url).get_display_name() == TEAM
    outsider = requests.request(
        "PROPFIND", team_url, auth=("fitter.denver", fitter["password"]), headers={"Depth": "0"}, timeout=10
    )
    assert outsider.status_code in (403, 404)
