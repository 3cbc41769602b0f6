"""Use cases of the key service: hand out keys, erase citizens, follow the erasure journal,
report the keys' state. The keyring (casedesk_keys) blocks on the HSM and the database, so every
call into it runs in a worker thread."""

from casedesk_keyservice.application.erasures import Erasures
from casedesk_keyservice.application.feed import ErasureFeed
from casedesk_keyservice.application.handout import KeyHandout
from casedesk_keyservice.application.ports import (
    ErasureJournal,
    IdentityProviderUnavailable,
    PersonTokens,
    PersonUnauthenticated,
)
from casedesk_keyservice.application.status import KekVersionView, KeyStatusView, key_status

__all__ = [
    "ErasureFeed",
    "ErasureJournal",
    "Erasures",
    "IdentityProviderUnavailable",
    "KekVersionView",
    "KeyHandout",
    "KeyStatusView",
    "PersonTokens",
    "PersonUnauthenticated",
    "key_status",
]
