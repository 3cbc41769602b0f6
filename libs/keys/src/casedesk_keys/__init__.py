"""Citizens' data keys (issue #18): envelope encryption of personal fields, a key-encryption key
behind PKCS#11 or in a Kubernetes Secret, crypto-shredding at erasure. See README.md.

What a service uses: `Subjects` (who a key belongs to), `KeyCache` in front of a `KeySource`,
`FieldCipher` (or `encrypt_field`/`decrypt_field` with a key in hand), `BlindIndex` (search
terms). What the key owner uses besides: `Keyring`, the rotation functions, the adapters.
"""

from casedesk_keys.blind_index import BlindIndex
from casedesk_keys.cache import KeyCache
from casedesk_keys.cipher import FieldCipher
from casedesk_keys.data_keys import DataKey, StoredKey, Tombstone, WrappedKey
from casedesk_keys.errors import (
    FieldUnreadable,
    InvalidIdentifier,
    KekNotFound,
    KeyErased,
    KeyNotFound,
    KeysError,
    KeyUnavailable,
    MalformedField,
    WrappedKeyDamaged,
)
from casedesk_keys.fields import (
    FieldContext,
    FieldHeader,
    decrypt_field,
    encrypt_field,
    header_of,
    is_encrypted,
    seal,
    unseal,
)
from casedesk_keys.keyring import Keyring
from casedesk_keys.local_source import LocalKeySource
from casedesk_keys.normalise import IdentifierKind
from casedesk_keys.ports import KekProvider, KeySource, KeyStore
from casedesk_keys.rotation import RetireRefused, RotationReport, retire, rewrap_all, start_rotation
from casedesk_keys.subjects import CitizenIdentity, IndexKey, SubjectId, Subjects

__all__ = [
    "BlindIndex",
    "CitizenIdentity",
    "DataKey",
    "FieldCipher",
    "FieldContext",
    "FieldHeader",
    "FieldUnreadable",
    "IdentifierKind",
    "IndexKey",
    "InvalidIdentifier",
    "KekNotFound",
    "KekProvider",
    "KeyCache",
    "KeyErased",
    "KeyNotFound",
    "KeySource",
    "KeyStore",
    "KeyUnavailable",
    "Keyring",
    "KeysError",
    "LocalKeySource",
    "MalformedField",
    "RetireRefused",
    "RotationReport",
    "StoredKey",
    "SubjectId",
    "Subjects",
    "Tombstone",
    "WrappedKey",
    "WrappedKeyDamaged",
    "decrypt_field",
    "encrypt_field",
    "header_of",
    "is_encrypted",
    "retire",
    "rewrap_all",
    "seal",
    "start_rotation",
    "unseal",
]
