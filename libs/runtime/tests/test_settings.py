import pytest

from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings


class DemoSettings(ServiceSettings):
    smtp_port: int = 25


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_PORT", "2525")
    monkeypatch.setenv("CASEDESK_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    settings = load_settings(DemoSettings)
    assert settings.smtp_port == 2525
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"


def test_invalid_values_name_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_PORT", "twenty-five")
    monkeypatch.setenv("CASEDESK_GRPC_PORT", "70000")
    with pytest.raises(SettingsError) as error:
        load_settings(DemoSettings)
    message = str(error.value)
    assert "CASEDESK_SMTP_PORT" in message
    assert "CASEDESK_GRPC_PORT" in message
