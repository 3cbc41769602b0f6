"""notify's social connectors (services/notify/README.md, "Social networks"): a network is on when
its Secret is named; its token reaches notify only as a file of that Secret, mounted read-only,
never as an environment variable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helmchart import SERVICES, Release
from test_settings_alignment import load_rendered

from casedesk_notify.__main__ import social_tokens

# ci/production-values.yaml: both networks, each token in a Secret of its own.
PRODUCTION_SECRETS = {"telegram": "casedesk-telegram", "vk": "casedesk-vk"}
NETWORK_VARIABLES = ("CASEDESK_TELEGRAM_", "CASEDESK_VK_", "CASEDESK_SOCIAL_")


def token_volume(release: Release, network: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(mount, volume, file name) of the network's token file, as CASEDESK_<NETWORK>_TOKEN_FILE
    names it."""
    path = release.value("notify", f"CASEDESK_{network.upper()}_TOKEN_FILE")
    directory, _, name = path.rpartition("/")
    mount = release.mounts("notify")[directory]
    return mount, release.volumes("notify")[mount["name"]], name


@pytest.mark.parametrize("network", PRODUCTION_SECRETS)
def test_each_token_is_a_read_only_file_of_its_own_secret(
    production: Release, network: str
) -> None:
    mount, volume, name = token_volume(production, network)
    assert mount["readOnly"] is True
    assert "subPath" not in mount
    assert volume["secret"] == {
        "secretName": PRODUCTION_SECRETS[network],
        # Readable by notify's group only; the key alone, nothing else of the Secret.
        "defaultMode": 0o440,
        "items": [{"key": "token", "path": name}],
    }


def test_no_token_is_an_environment_variable(production: Release) -> None:
    for service in SERVICES:
        for variable in production.env(service).values():
            ref = variable.get("valueFrom", {}).get("secretKeyRef", {})
            assert ref.get("name") not in PRODUCTION_SECRETS.values(), (service, variable)


def test_only_notify_gets_the_social_networks(production: Release) -> None:
    for service in SERVICES:
        names = [n for n in production.env(service) if n.startswith(NETWORK_VARIABLES)]
        mounts = [p for p in production.mounts(service) if p.startswith("/etc/casedesk/social")]
        if service == "notify":
            assert names and len(mounts) == 2
        else:
            assert (names, mounts) == ([], []), service


def test_notify_reads_the_tokens_where_the_kubelet_puts_them(
    production: Release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Project each Secret volume as the kubelet does (each item's key at <mountPath>/<path>)
    # under tmp_path, then let notify read its tokens through the rendered variables.
    tokens = {"casedesk-telegram": "123456:telegram-bot-token", "casedesk-vk": "vk1.community"}
    for mount in production.container("notify")["volumeMounts"]:
        # (The data volume is the StatefulSet's claim template, not a pod volume.)
        volume = production.volumes("notify").get(mount["name"], {})
        secret = volume.get("secret", {})
        if secret.get("secretName") not in tokens:
            continue
        directory = tmp_path / mount["mountPath"].lstrip("/")
        directory.mkdir(parents=True)
        for item in secret["items"]:
            (directory / item["path"]).write_text(tokens[secret["secretName"]] + "\n")
    settings = load_rendered(production, "notify", monkeypatch)
    projected = settings.model_copy(
        update={
            field: tmp_path / str(getattr(settings, field)).lstrip("/")
            for field in ("telegram_token_file", "vk_token_file")
        }
    )
    assert social_tokens(projected) == {
        "telegram": "123456:telegram-bot-token",
        "vk": "vk1.community",
    }


def test_without_a_secret_a_network_is_off(
    minimal: Release, render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not [n for n in minimal.env("notify") if n.startswith(NETWORK_VARIABLES)]
    assert not [p for p in minimal.mounts("notify") if p.startswith("/etc/casedesk/social")]
    telegram_only = render(
        "minimal-values.yaml", values={"social": {"telegram": {"existingSecret": "bot"}}}
    )
    env = telegram_only.env("notify")
    assert "CASEDESK_TELEGRAM_TOKEN_FILE" in env
    assert not [n for n in env if n.startswith("CASEDESK_VK_")]
    _, volume, _ = token_volume(telegram_only, "telegram")
    assert volume["secret"]["secretName"] == "bot"
    notify = load_rendered(telegram_only, "notify", monkeypatch)
    assert notify.vk_token_file is None
    assert notify.telegram_token_file is not None


def test_social_values_reach_notify_as_it_reads_them(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    social = {
        "telegram": {
            "existingSecret": "casedesk-social",
            "tokenKey": "telegram-token",
            "apiUrl": "https://bot-api.egress.svc:8081",
        },
        "vk": {"existingSecret": "casedesk-social", "tokenKey": "vk-token", "apiVersion": "5.131"},
        "timeoutSeconds": 2.5,
        "maxInFlight": 4,
        "ratePerSecond": 0.5,
        "burst": 3,
    }
    # The local Bot API server listens on 8081: the policy must open it (test_values_validation).
    policy = {"social": {"to": [], "ports": [{"port": 443}, {"port": 8081, "protocol": "TCP"}]}}
    released = render("minimal-values.yaml", values={"social": social, "networkPolicy": policy})
    notify = load_rendered(released, "notify", monkeypatch)
    assert notify.telegram_token_file == Path("/etc/casedesk/social/telegram/telegram-token")
    assert notify.vk_token_file == Path("/etc/casedesk/social/vk/vk-token")
    assert notify.telegram_api_url == "https://bot-api.egress.svc:8081"
    assert (notify.vk_api_url, notify.vk_api_version) == ("https://api.vk.com", "5.131")
    assert (notify.social_timeout_s, notify.social_max_in_flight) == (2.5, 4)
    assert (notify.social_rate_per_s, notify.social_burst) == (0.5, 3)


def test_an_api_port_is_checked_only_where_policies_are_rendered(
    render: Callable[..., Release],
) -> None:
    proxied = {"telegram": {"existingSecret": "bot", "apiUrl": "https://bot-api.egress.svc:8081"}}
    released = render(
        "minimal-values.yaml", values={"social": proxied, "networkPolicy": {"enabled": False}}
    )
    assert released.value("notify", "CASEDESK_TELEGRAM_API_URL") == proxied["telegram"]["apiUrl"]
    # A port range covering it opens it as well.
    ranged = {"social": {"to": [], "ports": [{"port": 8000, "endPort": 8999, "protocol": "TCP"}]}}
    released = render("minimal-values.yaml", values={"social": proxied, "networkPolicy": ranged})
    assert released.value("notify", "CASEDESK_TELEGRAM_API_URL") == proxied["telegram"]["apiUrl"]
