"""The key service's series on the runtime's metrics endpoint.

- `casedesk_keys_erasures_total{by}`: subjects erased and journaled (`by`: `person`, `system`);
  an order repeated for an erased subject adds nothing;
- `casedesk_keys_keys_handed_out_total{rpc, caller}`: keys handed out, by RPC (`GetCurrentKey`,
  `GetCurrentKeys` — one per key —, `GetKey`, `ReopenSubject`) and calling service (a handful of
  names); refusals show in the runtime's `casedesk_grpc_server_handled_total{grpc_code!="OK"}`
  (GetCurrentKeys' refusals of single subjects travel inside its OK reply and are not counted);
- `casedesk_keys_erasure_watchers`: WatchErasures streams open in this process.
"""

from __future__ import annotations

from opentelemetry import metrics

from casedesk_keyservice.domain import Eraser

_meter = metrics.get_meter("casedesk_keyservice")
_erasures = _meter.create_counter(
    "casedesk.keys.erasures", unit="{subject}", description="Subjects erased and journaled"
)
_handed_out = _meter.create_counter(
    "casedesk.keys.keys_handed_out", unit="{key}", description="Data keys handed out"
)
_watchers = _meter.create_up_down_counter(
    "casedesk.keys.erasure_watchers", unit="{stream}", description="WatchErasures streams open"
)


def erased(eraser: Eraser) -> None:
    _erasures.add(1, {"by": eraser.kind})


def handed_out(rpc: str, caller: str) -> None:
    _handed_out.add(1, {"rpc": rpc, "caller": caller})


def watching(change: int) -> None:
    _watchers.add(change)
