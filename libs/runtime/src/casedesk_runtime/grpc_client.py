"""Client channels that carry the caller's trace context to the callee, over mutual TLS.

`channel_for(settings, target)` is what a service uses to call another: mutual TLS with the
process's own certificate (its identity, `spiffe://casedesk/<name>`) when the TLS files are
configured, plaintext only with CASEDESK_GRPC_INSECURE_DEV=true, otherwise it refuses
(grpc_tls.TlsNotConfigured). The files are read when the channel is made, so a channel made after
a certificate rotation presents the new certificate; a long-lived channel keeps the handshake of
its current connection and picks up nothing until it is recreated (gRPC reconnects it with the
credentials it was made with). The server side reloads on its own (grpc_tls).

The server's certificate is checked against the CA and the target's host name (`localhost`,
127.0.0.1 or the service name for the development PKI); `server_name` overrides the name checked,
for a target whose address is not in the certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from casedesk_runtime.grpc_tls import channel_credentials, tls_files
from casedesk_runtime.grpc_tracing import client_interceptors
from casedesk_runtime.settings import ServiceSettings

ChannelOptions = Sequence[tuple[str, Any]]


def insecure_channel(target: str, options: ChannelOptions = ()) -> grpc.aio.Channel:
    """Plaintext, whatever the settings say: for tests and tools, never between services."""
    return grpc.aio.insecure_channel(
        target, options=list(options) or None, interceptors=client_interceptors()
    )


def secure_channel(
    settings: ServiceSettings,
    target: str,
    *,
    server_name: str | None = None,
    options: ChannelOptions = (),
) -> grpc.aio.Channel:
    """Mutual TLS to `target` with this process's certificate (raises if TLS is not configured)."""
    credentials = channel_credentials(settings)
    all_options = list(options)
    if server_name:
        all_options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.aio.secure_channel(
        target, credentials, options=all_options or None, interceptors=client_interceptors()
    )


def channel_for(
    settings: ServiceSettings,
    target: str,
    *,
    server_name: str | None = None,
    options: ChannelOptions = (),
) -> grpc.aio.Channel:
    """`secure_channel` when the TLS files are configured; plaintext only in insecure dev mode."""
    if tls_files(settings) is None:  # raises unless TLS or insecure dev mode is configured
        return insecure_channel(target, options)
    return secure_channel(settings, target, server_name=server_name, options=options)
