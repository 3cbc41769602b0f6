from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk_notify.__main__ import build_outlets, decision_consumer, social_tokens
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


def test_a_social_network_is_on_when_its_token_file_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    (tmp_path / "vk").write_text("  vk-secret-token\n")
    monkeypatch.setenv("CASEDESK_VK_TOKEN_FILE", str(tmp_path / "vk"))
    monkeypatch.setenv("CASEDESK_VK_API_URL", "http://127.0.0.1:1")
    settings = load_settings(NotifySettings)
    tokens = social_tokens(settings)
    assert tokens == {"vk": "vk-secret-token"}
    outlets, senders = build_outlets(settings, tokens)
    assert list(outlets) == [DeliveryChannel.EMAIL, DeliveryChannel.SOCIAL]
    assert len(senders) == 2
    assert "vk-secret-token" not in repr(settings)


@pytest.mark.parametrize("content", [None, "", "\n"], ids=["missing", "empty", "blank"])
def test_an_unreadable_token_file_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path, content: str | None
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    path = tmp_path / "telegram"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("CASEDESK_TELEGRAM_TOKEN_FILE", str(path))
    with pytest.raises(SettingsError, match="CASEDESK_TELEGRAM_TOKEN_FILE"):
        social_tokens(load_settings(NotifySettings))


@pytest.mark.parametrize(
    ("written", "period"),
    [
        (None, timedelta(days=7)),
        ("14", timedelta(days=14)),  # a bare number is days, as for the case service
        ("36h", timedelta(hours=36)),
        ("30s", timedelta(seconds=30)),
        ("P3D", timedelta(days=3)),
    ],
)
def test_the_auto_close_period_reads_as_the_case_services(
    monkeypatch: pytest.MonkeyPatch, written: str | None, period: timedelta
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    if written is not None:
        monkeypatch.setenv("CASEDESK_AUTO_CLOSE_AFTER", written)
    assert load_settings(NotifySettings).auto_close_after == period


async def test_the_escalation_decisions_topic_is_read_unless_set_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    settings = load_settings(NotifySettings)
    assert settings.escalation_decisions_topic == "escalation.decisions.v1"
    consumer = decision_consumer(settings)
    assert consumer is not None and consumer._group_id is None  # no group: see DecisionConsumer
    monkeypatch.setenv("CASEDESK_ESCALATION_DECISIONS_TOPIC", "")
    assert decision_consumer(load_settings(NotifySettings)) is None


@pytest.mark.parametrize("written", ["0", "-1", "soon"])
def test_an_auto_close_period_the_case_service_refuses_is_refused(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("CASEDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CASEDESK_AUTO_CLOSE_AFTER", written)
    with pytest.raises(SettingsError, match="CASEDESK_AUTO_CLOSE_AFTER"):
        load_settings(NotifySettings)
