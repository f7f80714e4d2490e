from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_defaults_are_documented_values() -> None:
    s = load_settings(environ={})
    assert (s.host, s.port, s.ols_prefix, s.ols_legacy_timezone) == ("127.0.0.1", 8080, "/ols", "Europe/Berlin")
    assert s.resolved_database_url().startswith("sqlite:///") and s.resolved_database_url().endswith(
        "/var/appointments.db"
    )


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[appointments]\nport = 9000\nlog_format = "json"\n[appointments.ols_type_labels]\n"HAE" = "INITIAL"\n'
    )
    s = load_settings(environ={"APPOINTMENTS_PORT": "9100"}, config_file=config)
    assert s.port == 9100
    assert s.log_format == "json"
    assert s.ols_type_labels == {"HAE": "INITIAL"}


def test_tables_from_the_environment() -> None:
    s = load_settings(environ={"APPOINTMENTS_OLS_STATUS_LABELS": "done=BOOKED; gone=CANCELLED"})
    assert s.ols_status_labels == {"done": "BOOKED", "gone": "CANCELLED"}


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"APPOINTMENTS_PORT": "eighty"}, "APPOINTMENTS_PORT"),
        ({"APPOINTMENTS_PORT": "70000"}, "APPOINTMENTS_PORT"),
        ({"APPOINTMENTS_LOG_FORMAT": "xml"}, "APPOINTMENTS_LOG_FORMAT"),
        ({"APPOINTMENTS_PUBLIC_URL": "example.com"}, "APPOINTMENTS_PUBLIC_URL"),
        ({"APPOINTMENTS_OLS_LEGACY_TIMEZONE": "Europe/Atlantis"}, "APPOINTMENTS_OLS_LEGACY_TIMEZONE"),
        ({"APPOINTMENTS_OLS_TYPE_LABELS": "X=LUNCH"}, "APPOINTMENTS_OLS_TYPE_LABELS"),
        ({"APPOINTMENTS_OLS_TYPE_LABELS": "no-equals-sign"}, "APPOINTMENTS_OLS_TYPE_LABELS"),
        ({"APPOINTMENTS_DATABASE_URL": "just-a-path.db"}, "APPOINTMENTS_DATABASE_URL"),
        ({"APPOINTMENTS_OLS_PREFIX": "ols/"}, "APPOINTMENTS_OLS_PREFIX"),
        ({"APPOINTMENTS_CONFIG": "/nonexistent/settings.toml"}, "APPOINTMENTS_CONFIG"),
        ({"APPOINTMENTS_SF_TECH_SETUP_POLICY": "maybe"}, "APPOINTMENTS_SF_TECH_SETUP_POLICY"),
        (  # busy blocks are pushed as Events: not in ServiceAppointment mode
            {"APPOINTMENTS_SF_PUSH_BUSY_BLOCKS": "true", "APPOINTMENTS_SF_MODE": "service_appointment"},
            "APPOINTMENTS_SF_PUSH_BUSY_BLOCKS",
        ),
    ],
)
def test_invalid_settings_name_the_setting(environ: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert caught.value.name == name
    assert name in str(caught.value)


def test_unknown_key_in_toml_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[appointments]\nprot = 1\n")
    with pytest.raises(SettingsError, match="APPOINTMENTS_PROT"):
        load_settings(environ={}, config_file=config)


def test_malformed_toml_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[appointments\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(environ={}, config_file=config)


def test_public_url_follows_the_address_served_unless_set() -> None:
    from config.settings import served_url

    assert load_settings({}).public_url == "http://127.0.0.1:8080"
    assert load_settings({"APPOINTMENTS_PORT": "9001"}).public_url == "http://127.0.0.1:9001"
    assert (
        load_settings({"APPOINTMENTS_HOST": "0.0.0.0", "APPOINTMENTS_PORT": "80"}).public_url == "http://127.0.0.1:80"
    )
    assert load_settings({}, port=9002).replace(port=9003).public_url == "http://127.0.0.1:9003"
    chosen = load_settings({"APPOINTMENTS_PUBLIC_URL": "https://a.example", "APPOINTMENTS_PORT": "9001"})
    assert chosen.public_url == "https://a.example" and chosen.replace(port=9004).public_url == "https://a.example"
    assert served_url("::1", 8080) == "http://[::1]:8080"
