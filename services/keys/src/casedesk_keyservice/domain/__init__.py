"""The key service's own rules: who may erase a citizen, what an erasure order and an erasure
record are. The keys themselves (subjects, tombstones, generations) are casedesk_keys' values.

Standard library and casedesk_keys' core only: no gRPC, database or environment.
"""

from casedesk_keyservice.domain.erasure import (
    ErasureOrder,
    ErasureOutcome,
    ErasureRecord,
    check_reason,
)
from casedesk_keyservice.domain.errors import (
    InvalidOrder,
    NotPermitted,
    PositionAhead,
    WatchClosed,
)
from casedesk_keyservice.domain.people import (
    NAME_LIMIT,
    PRIVACY_OFFICER,
    SYSTEM_ERASERS,
    Eraser,
    Person,
    check_may_erase,
    keepable_name,
)

__all__ = [
    "NAME_LIMIT",
    "PRIVACY_OFFICER",
    "SYSTEM_ERASERS",
    "Eraser",
    "ErasureOrder",
    "ErasureOutcome",
    "ErasureRecord",
    "InvalidOrder",
    "NotPermitted",
    "Person",
    "PositionAhead",
    "WatchClosed",
    "check_may_erase",
    "check_reason",
    "keepable_name",
]
