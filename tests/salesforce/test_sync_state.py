"""The sync's own rows behind ``uow.repo(SyncState)``: watermarks, named values, job runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.state import SyncState, Watermark, finish_run, start_run

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def test_one_repository_per_transaction_and_watermarks_never_move_back(runtime: Runtime) -> None:
    uow = runtime.uow()
    with uow:
        state = uow.repo(SyncState)
        assert uow.repo(SyncState) is state
        state.set_watermark("Event", Watermark(T0 + timedelta(hours=1), "b"))
        state.set_watermark("Event", Watermark(T0, "z"))  # older: ignored
        state.set_watermark("Account", Watermark(T0, "a"))
        state.put_value("api_usage", {"used": 3})
        uow.commit()
    with uow:
        state = uow.repo(SyncState)
        mark = state.watermark("Event")
        assert mark is not None and mark.last_id == "b"
        assert mark.modstamp.replace(tzinfo=UTC) == T0 + timedelta(hours=1)
        assert state.watermark("Contact") is None
        assert [row.name for row in state.watermark_rows()] == ["wm:Account", "wm:Event"]
        assert state.value("api_usage") == {"used": 3} and state.value("nothing") is None


def test_runs_are_listed_newest_first_with_their_outcome(runtime: Runtime) -> None:
    first = start_run(runtime.uow(), "mirror", "host:1")
    second = start_run(runtime.uow(), "mirror", "host:2")
    finish_run(runtime.uow(), first, "ok", processed=4, api_usage=(10, 100))
    with runtime.uow() as uow:
        state = uow.repo(SyncState)
        runs = state.last_runs("mirror")
        assert [(r.id, r.outcome, r.processed) for r in runs] == [(second, "running", 0), (first, "ok", 4)]
        assert state.last_runs("push") == []
        usage = state.value("api_usage")
        assert usage is not None and (usage["used"], usage["total"]) == (10, 100)
