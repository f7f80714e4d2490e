"""The sync's own rows behind ``uow.repo(SyncState)``: watermarks, named values, job runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.state import SyncState, Watermark, finish_run, start_run
from tests.conftest import postgresql_only

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


@postgresql_only
def test_two_first_writers_of_a_value_both_succeed(runtime: Runtime) -> None:
    """Every process's preflight records its report: two first writes of one named value at once both commit,
    the later one's value kept (a get-then-add lost the race with a unique violation: a failed job tick in
    tests/e2e/test_jobs_processes.py about one run in eight)."""
    first, second = runtime.uow(), runtime.uow()
    done = threading.Event()
    errors: list[BaseException] = []
    with first:
        first.repo(SyncState).put_value("preflight", {"ok": 1})

        def write_second() -> None:
            try:
                with second:
                    second.repo(SyncState).put_value("preflight", {"ok": 2})  # waits for the first's row
                    second.commit()
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=write_second)
        thread.start()
        assert not done.wait(0.5)  # the second waits on the first's uncommitted row
        first.commit()
    thread.join(30)
    assert errors == []
    with runtime.uow() as uow:
        assert uow.repo(SyncState).value("preflight") == {"ok": 2}
