"""Keycloak for the integration tests: the development identity provider with the realms of
deploy/keycloak (`casedesk` for specialists, `portal` for citizens).

`SessionInfrastructure.keycloak()` (the `keycloak` session fixture) starts one per session: a
container of CASEDESK_KEYCLOAK_IMAGE (default `casedesk/keycloak:26.7.3`, built by
tools/infra/images/build-infra-images.sh) when the session uses Docker, otherwise
tools/infra/keycloak-local.sh on free ports. Both start from the seed database that
keycloak-local.sh keeps in the cache (the realm files imported once), which makes a start about
three times faster than importing; a foreign image (e.g. quay.io/keycloak/keycloak) imports the
realm files instead.

    keycloak.issuer("casedesk")                       # http://127.0.0.1:<port>/realms/casedesk
    keycloak.token("casedesk", "l1.ivanova")          # an access token (the password grant)
    keycloak.token("portal", "ivanov.ii")
    keycloak.admin.rotate_signing_key("casedesk")     # -> the new key's kid
    keycloak.admin.create_user("casedesk", "l2.new", attributes={"tier": "L2"},
                               realm_roles=["specialist"])

The session's Keycloak is shared: a test that changes a realm (rotates its key, adds users) must
leave it usable for the others, e.g. fetch tokens after a rotation instead of before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Literal

# `containers` configures testcontainers before its first import; its DockerContainer is used here.
from . import containers
from .errors import InfrastructureError
from .local_processes import INFRA_DIR, LocalProcess
from .readiness import wait_until
from .services import free_ports

DEFAULT_IMAGE = "casedesk/keycloak:26.7.3"
LOCAL_IMAGE_PREFIX = "casedesk/"
REALMS_DIR = INFRA_DIR.parents[1] / "deploy" / "keycloak"
# The master realm's administrator, as tools/infra/keycloak-local.sh creates it. Only loopback
# reaches it; CASEDESK_KEYCLOAK_ADMIN_PASSWORD changes the password (and so the seed).
ADMIN_USERNAME = "admin"
# The confidential clients with direct access grants, one per realm (development only; the
# secrets are in the realm files).
DEV_CLIENTS: dict[str, tuple[str, str]] = {
    "casedesk": ("casedesk-dev-tokens", "casedesk-dev-tokens-secret"),
    "portal": ("casedesk-portal-frontend", "casedesk-portal-frontend-secret"),
}
# Keycloak's own defaults outside containers, plus C1 only: the fastest start on two busy cores.
JAVA_ENV = {"JAVA_OPTS_KC_HEAP": "-Xms128m -Xmx512m", "JAVA_OPTS_APPEND": "-XX:TieredStopAtLevel=1"}
KEY_PROVIDER = "org.keycloak.keys.KeyProvider"
RSA_PROVIDERS = ("rsa-generated", "rsa")  # not rsa-enc-generated: that one encrypts


def admin_password() -> str:
    return os.environ.get("CASEDESK_KEYCLOAK_ADMIN_PASSWORD") or "admin"


class KeycloakError(RuntimeError):
    """Keycloak answered a request with an error status."""


# -- HTTP, without redirects and without the environment's proxies (everything is on loopback) -----


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 is an answer a test wants to look at, not something to follow


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def http(
    method: str,
    url: str,
    *,
    form: Mapping[str, str] | None = None,
    json_body: Any = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request; any status comes back as a Reply (connection failures raise OSError)."""
    headers: dict[str, str] = {}
    data: bytes | None = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
        with error:
            return Reply(error.code, error.headers, error.read())


def _describe(reply: Reply) -> str:
    """Keycloak's reason (error / error_description / errorMessage), never the request."""
    try:
        body = reply.json()
    except ValueError:
        return f"{reply.status}"
    if not isinstance(body, dict):
        return f"{reply.status}"
    reason = " ".join(
        str(body[key]) for key in ("error", "error_description", "errorMessage") if key in body
    )
    return f"{reply.status} {reason}".strip()


# -- the running server ----------------------------------------------------------------------------


@dataclass
class Keycloak:
    """A running Keycloak with deploy/keycloak's realms."""

    url: str  # http://127.0.0.1:<port>
    management_url: str  # http://127.0.0.1:<management port>: /health/ready, /health/live
    server: containers.RunningContainer | LocalProcess | None = None  # None only while it starts
    admin: KeycloakAdmin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = KeycloakAdmin(self.url, ADMIN_USERNAME, admin_password())

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    def jwks_url(self, realm: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/certs"

    def token_endpoint(self, realm: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/token"

    def authorization_endpoint(self, realm: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/auth"

    def token_response(
        self,
        realm: str,
        username: str,
        password: str | None = None,
        client: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """The token endpoint's answer to a password grant: access_token, expires_in, ...

        `client` defaults to the realm's development client (DEV_CLIENTS), whose secret is known;
        another confidential client needs `client_secret`, a public one none. The development
        users' password is their login."""
        default_client, default_secret = DEV_CLIENTS.get(realm, (None, None))
        client_id = client or default_client
        if client_id is None:
            raise ValueError(f"realm {realm!r} has no development client; name one with client=")
        form = {
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": username if password is None else password,
            "scope": "openid",
        }
        secret = client_secret
        if secret is None and client_id == default_client:
            secret = default_secret
        if secret is not None:
            form["client_secret"] = secret
        reply = http("POST", self.token_endpoint(realm), form=form)
        if reply.status != 200:
            raise KeycloakError(
                f"Keycloak refused a token for {username} in realm {realm} via {client_id}: "
                f"{_describe(reply)}"
            )
        answer: dict[str, Any] = reply.json()
        return answer

    def token(
        self,
        realm: str,
        username: str,
        password: str | None = None,
        client: str | None = None,
        client_secret: str | None = None,
    ) -> str:
        """An access token (a JWT) for `username` of `realm`; see `token_response`."""
        return str(
            self.token_response(realm, username, password, client, client_secret)["access_token"]
        )

    def ready(self) -> bool:
        """Initialised and every realm of deploy/keycloak answering its discovery document."""
        if http("GET", f"{self.management_url}/health/ready", timeout=3).status != 200:
            return False
        return all(
            http("GET", f"{self.issuer(realm)}/.well-known/openid-configuration", timeout=3).status
            == 200
            for realm in realm_names()
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class KeycloakAdmin:
    """Keycloak's admin REST API as the master realm's administrator."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self._url, self._username, self._password = url, username, password
        self._token, self._expires_at = "", 0.0

    def request(self, method: str, path: str, body: Any = None) -> Reply:
        """`path` below /admin/realms, e.g. "/casedesk/users"; an error status raises."""
        reply = http(
            method, f"{self._url}/admin/realms{path}", json_body=body, token=self._bearer()
        )
        if reply.status >= 400:
            raise KeycloakError(f"Keycloak admin {method} {path}: {_describe(reply)}")
        return reply

    def _bearer(self) -> str:
        # The master realm's tokens live 60 s: take a new one shortly before that.
        if time.monotonic() > self._expires_at:
            form = {
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self._username,
                "password": self._password,
            }
            reply = http(
                "POST", f"{self._url}/realms/master/protocol/openid-connect/token", form=form
            )
            if reply.status != 200:
                raise KeycloakError(
                    f"the Keycloak administrator {self._username!r} could not sign in: "
                    f"{_describe(reply)} (CASEDESK_KEYCLOAK_ADMIN_PASSWORD must be the one the "
                    "server was seeded with)"
                )
            answer = reply.json()
            self._token = str(answer["access_token"])
            self._expires_at = time.monotonic() + float(answer["expires_in"]) - 15
        return self._token

    @staticmethod
    def _created_id(reply: Reply) -> str:
        # Keycloak answers 201 with the new resource's URL; its last segment is the id.
        return str(reply.headers["Location"]).rstrip("/").rsplit("/", 1)[1]

    # -- realms ------------------------------------------------------------------------------------

    def create_realm(self, representation: Mapping[str, Any]) -> None:
        """A realm from a representation such as a realm file's content, e.g. a private copy of
        `casedesk` for a test that must not disturb the session's realms."""
        self.request("POST", "", dict(representation))

    def delete_realm(self, realm: str) -> None:
        self.request("DELETE", f"/{realm}")

    # -- signing keys ------------------------------------------------------------------------------

    def signing_keys(self, realm: str, algorithm: str = "RS256") -> list[dict[str, Any]]:
        """The realm's signing keys of `algorithm` as the admin API lists them: kid, status
        (ACTIVE, PASSIVE, DISABLED), providerId, providerPriority, ..."""
        keys = self.request("GET", f"/{realm}/keys").json()["keys"]
        return [k for k in keys if k.get("algorithm") == algorithm and k.get("use") == "SIG"]

    def active_kid(self, realm: str, algorithm: str = "RS256") -> str:
        """The kid new tokens of `realm` are signed with: the active key of highest priority."""
        active = [k for k in self.signing_keys(realm, algorithm) if k.get("status") == "ACTIVE"]
        if not active:
            raise KeycloakError(f"realm {realm} has no active {algorithm} signing key")
        return str(max(active, key=lambda k: int(k.get("providerPriority", 0)))["kid"])

    def rotate_signing_key(
        self, realm: str, retire: Literal["disabled", "passive", "removed"] = "disabled"
    ) -> str:
        """Add an RSA (RS256) key provider above every existing one and retire the older RSA
        signing providers; return the new key's kid.

        retire: "disabled" — the old keys are no longer published (tokens signed with them stop
        verifying); "passive" — still published, never used to sign (a graceful rotation);
        "removed" — deleted."""
        realm_id = self.request("GET", f"/{realm}").json()["id"]
        providers = self.request(
            "GET", f"/{realm}/components?type={urllib.parse.quote(KEY_PROVIDER)}"
        ).json()
        old = [p for p in providers if p.get("providerId") in RSA_PROVIDERS]
        old = [p for p in old if p.get("config", {}).get("algorithm", ["RS256"]) == ["RS256"]]
        priority = max((int(p["config"].get("priority", ["0"])[0]) for p in old), default=0) + 1
        created = self.request(
            "POST",
            f"/{realm}/components",
            {
                "name": f"rsa-rotated-{priority}",
                "providerId": "rsa-generated",
                "providerType": KEY_PROVIDER,
                "parentId": realm_id,
                "config": {
                    "priority": [str(priority)],
                    "enabled": ["true"],
                    "active": ["true"],
                    "algorithm": ["RS256"],
                    "keySize": ["2048"],
                },
            },
        )
        provider_id = self._created_id(created)
        for provider in old:
            path = f"/{realm}/components/{provider['id']}"
            if retire == "removed":
                self.request("DELETE", path)
                continue
            setting = {"disabled": "enabled", "passive": "active"}[retire]
            provider["config"][setting] = ["false"]
            self.request("PUT", path, provider)
        new = [k for k in self.signing_keys(realm) if k.get("providerId") == provider_id]
        if not new:
            raise KeycloakError(f"realm {realm}: the new key provider {provider_id} has no key")
        return str(new[0]["kid"])

    # -- users -------------------------------------------------------------------------------------

    def user(self, realm: str, username: str) -> dict[str, Any]:
        """The user's representation (id, attributes, enabled, ...)."""
        query = urllib.parse.urlencode({"username": username, "exact": "true"})
        found = self.request("GET", f"/{realm}/users?{query}").json()
        if not found:
            raise KeycloakError(f"realm {realm} has no user {username!r}")
        user: dict[str, Any] = found[0]
        return user

    def create_user(
        self,
        realm: str,
        username: str,
        password: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        attributes: Mapping[str, str | Iterable[str]] | None = None,
        realm_roles: Iterable[str] = (),
    ) -> str:
        """A new enabled user with a password (default: the login, like the development users);
        returns its id (the tokens' `sub`). `tier` must be L1, L2 or L3 (the realm's user profile
        refuses anything else)."""
        representation: dict[str, Any] = {
            "username": username,
            "enabled": True,
            "emailVerified": email is not None,
            "credentials": [
                {"type": "password", "value": password or username, "temporary": False}
            ],
            "attributes": {
                name: [value] if isinstance(value, str) else list(value)
                for name, value in (attributes or {}).items()
            },
        }
        for key, value in (("firstName", first_name), ("lastName", last_name), ("email", email)):
            if value is not None:
                representation[key] = value
        user_id = self._created_id(self.request("POST", f"/{realm}/users", representation))
        self.grant_realm_roles(realm, user_id, realm_roles)
        return user_id

    def grant_realm_roles(self, realm: str, user_id: str, roles: Iterable[str]) -> None:
        wanted = [self.request("GET", f"/{realm}/roles/{name}").json() for name in roles]
        if wanted:
            self.request("POST", f"/{realm}/users/{user_id}/role-mappings/realm", wanted)

    def update_user(
        self,
        realm: str,
        username: str,
        *,
        attributes: Mapping[str, str | Iterable[str]] | None = None,
        enabled: bool | None = None,
    ) -> None:
        """Set some attributes (others are kept) and/or enable or disable the user."""
        user = self.user(realm, username)
        if attributes:
            merged = dict(user.get("attributes") or {})
            for name, value in attributes.items():
                merged[name] = [value] if isinstance(value, str) else list(value)
            user["attributes"] = merged
        if enabled is not None:
            user["enabled"] = enabled
        self.request("PUT", f"/{realm}/users/{user['id']}", user)

    def delete_user(self, realm: str, username: str) -> None:
        self.request("DELETE", f"/{realm}/users/{self.user(realm, username)['id']}")


# -- starting it -----------------------------------------------------------------------------------


def realm_names(realms_dir: Path = REALMS_DIR) -> list[str]:
    names = sorted(p.name.removesuffix("-realm.json") for p in realms_dir.glob("*-realm.json"))
    if not names:
        raise InfrastructureError(f"no *-realm.json files in {realms_dir}")
    return names


def image_from_env() -> str:
    return os.environ.get("CASEDESK_KEYCLOAK_IMAGE") or DEFAULT_IMAGE


def start_keycloak(run_dir: Path, image: str | None, timeout: float) -> Keycloak:
    """Start Keycloak on free loopback ports, in a container of `image` or (None) as a local
    process, and return it once it is ready and every realm answers."""
    port, management_port = free_ports(2)
    keycloak = Keycloak(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{management_port}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if image is None:
        keycloak.server = _start_local(keycloak, run_dir, port, management_port, timeout)
    else:
        keycloak.server = _start_container(keycloak, run_dir, image, port, management_port, timeout)
    return keycloak


def _local_env(run_dir: Path, port: int, management_port: int, timeout: float) -> dict[str, str]:
    return {
        "CASEDESK_RUN_DIR": str(run_dir),
        "CASEDESK_KEYCLOAK_PORT": str(port),
        "CASEDESK_KEYCLOAK_MANAGEMENT_PORT": str(management_port),
        "CASEDESK_KEYCLOAK_READY_SECONDS": str(int(timeout)),
        "CASEDESK_KEYCLOAK_ADMIN_PASSWORD": admin_password(),
    }


def _start_local(
    keycloak: Keycloak, run_dir: Path, port: int, management_port: int, timeout: float
) -> LocalProcess:
    process = LocalProcess(
        INFRA_DIR / "keycloak-local.sh", _local_env(run_dir, port, management_port, timeout)
    )
    # The very first start also downloads and builds the distribution and imports the realms.
    process.run("start", timeout=timeout + 300)
    try:
        wait_until(f"Keycloak at {keycloak.url}", keycloak.ready, timeout, lambda: None)
    except BaseException:
        process.stop()
        raise
    return process


def _seed(run_dir: Path, timeout: float) -> Path:
    """The seed database's directory, made by keycloak-local.sh on this machine if needed."""
    # The import runs Keycloak's management interface: it needs a free port of its own.
    (spare_port,) = free_ports(1)
    env = {
        **os.environ,
        "CASEDESK_RUN_DIR": str(run_dir),
        "CASEDESK_KEYCLOAK_MANAGEMENT_PORT": str(spare_port),
        "CASEDESK_KEYCLOAK_ADMIN_PASSWORD": admin_password(),
    }
    try:
        done = subprocess.run(
            [str(INFRA_DIR / "keycloak-local.sh"), "seed"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout + 300,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise InfrastructureError("keycloak-local.sh seed hung") from error
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-30:])
        raise InfrastructureError(f"keycloak-local.sh seed failed:\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


def _ensure_local_image(image: str) -> None:
    inspected = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, check=False
    )
    if inspected.returncode == 0:
        return
    built = subprocess.run(
        [str(INFRA_DIR / "images" / "build-infra-images.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if built.returncode != 0:
        tail = "\n".join(built.stderr.splitlines()[-30:])
        raise InfrastructureError(f"building {image} failed:\n{tail}")


def _start_container(
    keycloak: Keycloak, run_dir: Path, image: str, port: int, management_port: int, timeout: float
) -> containers.RunningContainer:
    # The container runs as this user on a data directory of ours: it writes nothing we could
    # not remove, and needs no ownership changes.
    data = run_dir / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    runtime = [
        "--http-enabled=true",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        f"--http-management-port={management_port}",
        f"--hostname=http://127.0.0.1:{port}",
        "--cache=local",
        "--log-level=INFO,io.smallrye.health:WARN",
    ]
    env = dict(JAVA_ENV)
    if image.startswith(LOCAL_IMAGE_PREFIX):
        # Our image holds the very distribution the seed was made with.
        _ensure_local_image(image)
        shutil.copytree(_seed(run_dir, timeout) / "h2", data / "h2")
        command = ["start", "--optimized", *runtime]
    else:
        # Another image (the official one): import the realm files, build at start-up.
        (data / "import").mkdir()
        for realm in REALMS_DIR.glob("*-realm.json"):
            shutil.copy(realm, data / "import")
        env |= {
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USERNAME,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": admin_password(),
        }
        command = ["start", "--import-realm", "--db=dev-file", "--health-enabled=true", *runtime]
    container = containers.DockerContainer(
        image,
        env=env,
        name=f"casedesk-it-keycloak-{port}",
        network_mode="host",
        labels={containers.SESSION_LABEL: str(os.getpid())},
        user=f"{os.getuid()}:{os.getgid()}",
    )
    container.with_volume_mapping(str(data), "/opt/keycloak/data", "rw")
    container.with_command(command)
    try:
        container.start()
    except Exception as error:
        raise InfrastructureError(f"could not start a container from {image}: {error}") from error
    try:
        wait_until(f"Keycloak at {keycloak.url}", keycloak.ready, timeout, _exited_check(container))
    except BaseException:
        container.stop(force=True, delete_volume=True)
        raise
    return containers.RunningContainer(container)


def _exited_check(container: containers.DockerContainer) -> Callable[[], None]:
    def check_alive() -> None:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            stdout, stderr = container.get_logs()
            tail = "\n".join((stdout + stderr).decode(errors="replace").splitlines()[-30:])
            raise InfrastructureError(f"the Keycloak container exited during start-up:\n{tail}")

    return check_alive
