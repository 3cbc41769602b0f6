"""Encrypting and decrypting fields with whichever key a KeySource gives (normally a KeyCache in
front of the key service): what a service's code calls."""

from __future__ import annotations

from casedesk_keys.fields import FieldContext, encrypt_field, header_of, token_bytes, unseal
from casedesk_keys.ports import KeySource
from casedesk_keys.subjects import SubjectId


class FieldCipher:
    def __init__(self, keys: KeySource) -> None:
        self.keys = keys

    async def encrypt(self, subject: SubjectId, plaintext: str, context: FieldContext) -> str:
        """Seal with the subject's current key (made on first use). KeyErased for an erased
        subject: nothing new is ever sealed with, or for, a destroyed key."""
        return encrypt_field(await self.keys.current_key(subject), plaintext, context)

    async def decrypt(self, token: str, context: FieldContext) -> str:
        """Open with the key the token names. KeyErased after its subject's erasure,
        FieldUnreadable if altered or moved, MalformedField if not a token."""
        sealed = token_bytes(token)
        header = header_of(sealed)
        key = await self.keys.key(header.subject, header.generation)
        return unseal(key, sealed, context).decode()
