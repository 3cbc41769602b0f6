from __future__ import annotations

import pytest

from casedesk_notify.__main__ import build_outlets
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.settings import NotifySettings
from casedesk_runtime.settings import SettingsError, load_settings


def test_defaults_follow_the_port_plan_and_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.delenv("CASEDESK_SMS_GATEWAY_URL", raising=False)
    settings = load_settings(NotifySettings)
    assert settings.grpc_port == 50055
    assert (settings.case_events_topic, settings.notification_events_topic) == (
        "case.events.v1", "notification.events.v1",
    )  # fmt: skip
    outlets, senders = build_outlets(settings)
    assert list(outlets) == [DeliveryChannel.EMAIL]  # no gateway URL: SMS is off
    assert len(senders) == 1


def test_a_service_with_no_provider_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEDESK_SMTP_HOST", raising=False)
    monkeypatch.delenv("CASEDESK_SMS_GATEWAY_URL", raising=False)
    with pytest.raises(SettingsError, match="CASEDESK_SMTP_HOST and/or CASEDESK_SMS_GATEWAY_URL"):
        load_settings(NotifySettings)


def test_bad_values_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CASEDESK_SMTP_TLS", "sometimes")
    monkeypatch.setenv("CASEDESK_MAX_ATTEMPTS", "0")
    with pytest.raises(SettingsError) as error:
        load_settings(NotifySettings)
    assert "CASEDESK_SMTP_TLS" in str(error.value)
    assert "CASEDESK_MAX_ATTEMPTS" in str(error.value)


def test_secrets_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMS_GATEWAY_URL", "http://127.0.0.1:1/send")
    monkeypatch.setenv("CASEDESK_SMS_GATEWAY_TOKEN", "very-secret-token")
    monkeypatch.setenv("CASEDESK_SMTP_PASSWORD", "very-secret-password")
    text = repr(load_settings(NotifySettings))
    assert "very-secret" not in text


def test_the_robustness_settings_have_their_documented_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    settings = load_settings(NotifySettings)
    assert (settings.recipient_limit, settings.recipient_window_s) == (10, 3600.0)
    assert settings.recipient_hold_max == 20
    assert (settings.smtp_timeout_s, settings.smtp_data_timeout_s) == (10.0, 60.0)


def test_a_negative_recipient_limit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CASEDESK_RECIPIENT_LIMIT", "-1")
    monkeypatch.setenv("CASEDESK_RECIPIENT_WINDOW_S", "0")
    with pytest.raises(SettingsError) as error:
        load_settings(NotifySettings)
    assert "CASEDESK_RECIPIENT_LIMIT" in str(error.value)
    assert "CASEDESK_RECIPIENT_WINDOW_S" in str(error.value)


def test_the_reply_window_and_the_wording_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    settings = load_settings(NotifySettings)
    assert (settings.reply_merge_window_s, settings.template_version) == (120.0, "v2")
    monkeypatch.setenv("CASEDESK_REPLY_MERGE_WINDOW_S", "-1")
    with pytest.raises(SettingsError, match="CASEDESK_REPLY_MERGE_WINDOW_S"):
        load_settings(NotifySettings)
