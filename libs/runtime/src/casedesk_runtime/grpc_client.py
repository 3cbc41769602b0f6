"""Client channels that carry the caller's trace context to the callee, over mutual TLS.

`channel_for(settings, target)` is what a service uses to call another: mutual TLS with the
process's own certificate (its identity, `spiffe://casedesk/<name>`) when the TLS files are
configured, plaintext only with CASEDESK_GRPC_INSECURE_DEV=true, otherwise it refuses
(grpc_tls.TlsNotConfigured).

Rotation. A gRPC channel keeps the credentials it was made with, and reconnects with them, so a
long-lived channel would present a certificate until it expires. `channel_for` therefore returns a
`RotatingChannel`: before a call, at most every `check_every_s`, it compares the TLS files'
(mtime, inode, size) with what it loaded — the server side's `grpc_tls.ReloadingCertificates`,
with the same rule that a half-rotated state (a key without its certificate, an unreadable file)
is never adopted — and when a new good set is there, it makes a fresh channel with it. New calls go
over the fresh channel; the old one gets `retire_grace_s` for the calls in flight on it to end,
then is closed, cancelling what is left (a stream still open then ends as after a disconnect).
Generated stubs work unchanged: a stub takes its multicallables from the channel once, and those
resolve the current channel on each call. The metrics (grpc_metrics) and tracing interceptors
are on every channel made.

The server's certificate is checked against the CA and the target's host name (`localhost`,
127.0.0.1 or the service name for the development PKI); `server_name` overrides the name checked,
for a target whose address is not in the certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import grpc

from casedesk_runtime.grpc_metrics import client_metrics_interceptors
from casedesk_runtime.grpc_tls import (
    ReloadingCertificates,
    TlsMaterial,
    channel_credentials,
    tls_files,
)
from casedesk_runtime.grpc_tracing import client_interceptors
from casedesk_runtime.settings import ServiceSettings

ChannelOptions = Sequence[tuple[str, Any]]
# A few stat calls per check; a renewal is due weeks before expiry, seconds do not matter.
CHECK_EVERY_S = 5.0
# Three times the longest default deadline of a call between services (intake's 10 s to case).
RETIRE_GRACE_S = 30.0


def insecure_channel(target: str, options: ChannelOptions = ()) -> grpc.aio.Channel:
    """Plaintext, whatever the settings say: for tests and tools, never between services."""
    return grpc.aio.insecure_channel(
        target, options=list(options) or None, interceptors=_interceptors()
    )


def secure_channel(
    settings: ServiceSettings,
    target: str,
    *,
    server_name: str | None = None,
    options: ChannelOptions = (),
) -> grpc.aio.Channel:
    """Mutual TLS to `target` with this process's certificate as the files hold it now (raises if
    TLS is not configured); the channel keeps it. For a short-lived channel; see channel_for."""
    return _tls_channel(channel_credentials(settings), target, server_name, options)


def channel_for(
    settings: ServiceSettings,
    target: str,
    *,
    server_name: str | None = None,
    options: ChannelOptions = (),
    check_every_s: float = CHECK_EVERY_S,
    retire_grace_s: float = RETIRE_GRACE_S,
) -> grpc.aio.Channel:
    """A `RotatingChannel` when the TLS files are configured; plaintext in insecure dev mode."""
    files = tls_files(settings)  # raises unless TLS or insecure dev mode is configured
    if files is None:
        return insecure_channel(target, options)
    certificates = ReloadingCertificates(files)  # a bad set of files fails here, at start

    def make(material: TlsMaterial) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=material.ca_pem,
            private_key=material.key_pem,
            certificate_chain=material.cert_pem,
        )
        return _tls_channel(credentials, target, server_name, options)

    return RotatingChannel(certificates, make, check_every_s, retire_grace_s)


def _tls_channel(
    credentials: grpc.ChannelCredentials,
    target: str,
    server_name: str | None,
    options: ChannelOptions,
) -> grpc.aio.Channel:
    all_options = list(options)
    if server_name:
        all_options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.aio.secure_channel(
        target, credentials, options=all_options or None, interceptors=_interceptors()
    )


def _interceptors() -> list[grpc.aio.ClientInterceptor]:
    # Metrics outermost: a call's duration includes its tracing.
    return [*client_metrics_interceptors(), *client_interceptors()]


class _Generation:
    """One TLS channel and the number of calls in flight on it."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def started(self, call: Any) -> None:
        self.in_flight += 1
        self.idle.clear()
        call.add_done_callback(self._ended)

    def _ended(self, call: Any) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.idle.set()


class RotatingChannel(grpc.aio.Channel):
    """A channel that moves new calls to a fresh TLS channel when the certificate files change."""

    def __init__(
        self,
        certificates: ReloadingCertificates,
        make: Callable[[TlsMaterial], grpc.aio.Channel],
        check_every_s: float,
        retire_grace_s: float,
    ) -> None:
        self._certificates = certificates
        self._make = make
        self._check_every_s = check_every_s
        self._retire_grace_s = retire_grace_s
        self._current = _Generation(make(certificates.material))
        self._next_check = time.monotonic() + check_every_s
        self._retiring: dict[asyncio.Task[None], _Generation] = {}
        self._closed = False

    @property
    def serial(self) -> int:
        """Serial number of the certificate new calls present."""
        return self._certificates.material.serial

    def generation(self) -> _Generation:
        """Where a new call goes: a fresh channel if the files changed into a usable set."""
        now = time.monotonic()
        if now >= self._next_check and not self._closed:
            try:  # retiring the old channel needs the loop; calls are only made in one anyway
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return self._current
            self._next_check = now + self._check_every_s
            if self._certificates() is not None:  # None: unchanged, or not usable (yet)
                self._replace(_Generation(self._make(self._certificates.material)), loop)
        return self._current

    def _replace(self, fresh: _Generation, loop: asyncio.AbstractEventLoop) -> None:
        old, self._current = self._current, fresh
        task = loop.create_task(self._retire(old))
        self._retiring[task] = old
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    async def _retire(self, old: _Generation) -> None:
        # Not the channel's own close(grace): that one cannot be cut short by close() below.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(old.idle.wait(), self._retire_grace_s)
        await old.channel.close()  # cancels whatever outlasted the grace

    async def close(self, grace: float | None = None) -> None:
        self._closed = True
        retiring = list(self._retiring.items())
        for task, _ in retiring:
            task.cancel()
        for task, _ in retiring:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Channels still in their retirement get this close's grace, not the rest of their own.
        channels = [old.channel for _, old in retiring] + [self._current.channel]
        await asyncio.gather(*(channel.close(grace) for channel in channels))

    async def __aenter__(self) -> RotatingChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.generation().channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self.generation().channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self.generation().channel.channel_ready()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _UnaryUnary(self, "unary_unary", args, kwargs)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _UnaryStream(self, "unary_stream", args, kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _StreamUnary(self, "stream_unary", args, kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _StreamStream(self, "stream_stream", args, kwargs)


class _PerCall:
    """A multicallable of whichever channel is current when a call starts.

    The current channel's own multicallable is made once per channel, not per call: making one
    looks up the method's registration in the channel.
    """

    def __init__(
        self, rotating: RotatingChannel, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._rotating = rotating
        self._kind = kind
        self._args = args
        self._kwargs = kwargs
        self._made_for: _Generation | None = None
        self._callable: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        generation = self._rotating.generation()
        if generation is not self._made_for:
            method = getattr(generation.channel, self._kind)
            self._callable = method(*self._args, **self._kwargs)
            self._made_for = generation
        call = self._callable(*args, **kwargs)
        generation.started(call)
        return call


class _UnaryUnary(_PerCall, grpc.aio.UnaryUnaryMultiCallable):  # type: ignore[misc]
    pass


class _UnaryStream(_PerCall, grpc.aio.UnaryStreamMultiCallable):  # type: ignore[misc]
    pass


class _StreamUnary(_PerCall, grpc.aio.StreamUnaryMultiCallable):  # type: ignore[misc]
    pass


class _StreamStream(_PerCall, grpc.aio.StreamStreamMultiCallable):  # type: ignore[misc]
    pass
