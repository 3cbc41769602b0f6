"""Client channels that carry the caller's trace context to the callee."""

from __future__ import annotations

import grpc

from casedesk_runtime.grpc_tracing import client_interceptors


def insecure_channel(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(target, interceptors=client_interceptors())
