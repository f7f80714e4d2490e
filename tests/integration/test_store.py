"""The SQL store on SQLite and PostgreSQL: migrations, types, transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import current_revision, ensure_schema, head_revision, is_current, upgrade
from caldav_bridge.store.tables import Base, CalendarRow


def test_migrations_build_exactly_the_orm_schema(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_ensure_schema_creates_an_empty_database_stamped_and_upgrades_an_old_one(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    ensure_schema(engine)  # empty: created from the tables in one go, stamped with the newest migration
    assert is_current(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with engine.begin() as connection:  # taken back to the revision before the newest migration
        connection.exec_driver_sql("DROP INDEX ix_idempotency_keys_principal_created_at")
        connection.exec_driver_sql("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")
        connection.exec_driver_sql("DROP TABLE audit_spool_marks")  # 0020's
        connection.exec_driver_sql("DROP INDEX ix_audit_read_batches_appointment_ids")  # 0021's
        connection.exec_driver_sql("ALTER TABLE audit_read_batches DROP COLUMN appointment_ids")
        connection.exec_driver_sql("ALTER TABLE dav_items DROP COLUMN service_etag")  # 0022's
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0016'")
    assert current_revision(engine) == "0016"
    ensure_schema(engine)  # behind: migrated
    indexes = {i["name"] for i in inspect(engine).get_indexes("idempotency_keys")}
    assert is_current(engine) and "ix_idempotency_keys_principal_created_at" in indexes
    assert "audit_spool_marks" in inspect(engine).get_table_names()
    assert "appointment_ids" in {c["name"] for c in inspect(engine).get_columns("audit_read_batches")}
    assert "service_etag" in {c["name"] for c in inspect(engine).get_columns("dav_items")}
    assert "ix_idempotency_keys_created_at" not in indexes
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_upgrade_is_repeatable_and_tracked(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() and is_current(engine)
    indexes = {i["name"] for i in inspect(engine).get_indexes("appointments")}
    assert {
        "ix_appointments_calendar_start_end",
        "ix_appointments_sf_opportunity_gid",
        "ix_appointments_sf_customer_gid",
        "ix_appointments_sf_appointment_gid",
    } <= indexes
    engine.dispose()


def test_times_come_back_aware_and_in_utc(runtime: Runtime) -> None:
    denver = timezone(timedelta(hours=-7))
    with runtime.uow() as uow:
        uow.calendars.add(
            CalendarRow(
                id="c1",
                name="n",
                kind="team",
                timezone="UTC",
                created_at=datetime(2026, 1, 1, 5, 0, tzinfo=denver),
                updated_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
            )
        )
        uow.commit()
    with runtime.uow() as uow:
        row = uow.calendars.get("c1")
        assert row is not None
        assert row.created_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        uow.calendars.add(
            CalendarRow(
                id="c2",
                name="n",
                kind="team",
                timezone="UTC",
                created_at=datetime(2026, 1, 1),
                updated_at=datetime(2026, 1, 1),
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            uow.commit()


def test_leaving_a_unit_of_work_without_commit_writes_nothing(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.uow() as uow:
        uow.calendars.add(CalendarRow(id="c3", name="n", kind="team", timezone="UTC", created_at=now, updated_at=now))
        uow.session.flush()
    with runtime.uow() as uow:
        assert uow.calendars.get("c3") is None
