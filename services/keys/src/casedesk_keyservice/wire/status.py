"""The operators' status report on the wire."""

from __future__ import annotations

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keyservice.application import KeyStatusView


def status_message(view: KeyStatusView) -> pb.KeyStatus:
    return pb.KeyStatus(
        kek_provider=view.kek_provider,
        kek_versions=[
            pb.KekVersion(kek_id=v.kek_id, current=v.current, held=v.held, data_keys=v.data_keys)
            for v in view.versions
        ],
        erasures=view.erasures,
        last_position=view.last_position,
    )
