"""Key-encryption keys in an HSM behind PKCS#11 (SoftHSM2 in development and tests, the
organisation's HSM in production): AES-256 token objects labelled `<label>.v<N>`, generated
non-extractable and sensitive, so their value never leaves the HSM; data keys are wrapped and
unwrapped inside it with CKM_AES_KEY_WRAP (RFC 3394).

A data key passes through the HSM as a session object (never stored on the token), destroyed
as soon as it is wrapped or read back.
"""

from __future__ import annotations

from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11

from casedesk_keys.adapters.pkcs11_session import Pkcs11Config, TokenSession
from casedesk_keys.data_keys import WrappedKey
from casedesk_keys.errors import KekNotFound, WrappedKeyDamaged
from casedesk_keys.kek_versions import check_label, newest, next_id

__all__ = ["Pkcs11Config", "Pkcs11KekProvider"]

_KEK_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}
_DATA_KEY_TEMPLATE = {
    Attribute.EXTRACTABLE: True,
    Attribute.SENSITIVE: False,
    Attribute.TOKEN: False,
}
# What an HSM answers to a wrapped key that fails AES key wrap's check (SoftHSM2: GeneralError).
_DAMAGED = (
    p11.WrappedKeyInvalid,
    p11.WrappedKeyLenRange,
    p11.EncryptedDataInvalid,
    p11.DataInvalid,
    p11.GeneralError,
)


class Pkcs11KekProvider:
    def __init__(self, config: Pkcs11Config) -> None:
        self.config = config
        self.label = check_label(config.kek_label)
        self.token = TokenSession(config)
        if not self.kek_ids():
            if not config.create:
                raise KekNotFound(
                    f"no key-encryption key {self.label}.v<N> in token {config.token_label!r}"
                )
            self.create_version()

    def kek_ids(self) -> list[str]:
        return self.token.call(lambda session: newest(self.label, _labels(session)))

    def current_kek_id(self) -> str:
        found = self.kek_ids()
        if not found:
            raise KekNotFound(f"no key-encryption key {self.label}.v<N> is left in the token")
        return found[-1]

    def wrap(self, secret: bytes) -> WrappedKey:
        def wrap(session: Any) -> WrappedKey:
            versions = newest(self.label, _labels(session))
            if not versions:
                raise KekNotFound(f"no key-encryption key {self.label}.v<N> is left")
            data_key = session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.VALUE: secret,
                    **_DATA_KEY_TEMPLATE,
                }
            )
            try:
                kek = self._kek(session, versions[-1])
                blob = kek.wrap_key(data_key, mechanism=Mechanism.AES_KEY_WRAP)
            finally:
                data_key.destroy()
            return WrappedKey(versions[-1], bytes(blob))

        return self.token.call(wrap)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        def unwrap(session: Any) -> bytes:
            kek = self._kek(session, wrapped.kek_id)
            try:
                data_key = kek.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    wrapped.blob,
                    mechanism=Mechanism.AES_KEY_WRAP,
                    template=_DATA_KEY_TEMPLATE,
                )
            except _DAMAGED:
                message = f"a data key wrapped under {wrapped.kek_id} is damaged"
                raise WrappedKeyDamaged(message) from None
            try:
                return bytes(data_key[Attribute.VALUE])
            finally:
                data_key.destroy()

        return self.token.call(unwrap)

    def create_version(self) -> str:
        def create(session: Any) -> str:
            new = next_id(self.label, _labels(session))
            self.token.handles[new] = session.generate_key(
                KeyType.AES,
                256,
                label=new,
                store=True,
                capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
                template=_KEK_TEMPLATE,
            )
            return new

        return self.token.call(create)

    def retire(self, kek_id: str) -> None:
        def retire(session: Any) -> None:
            self.token.handles.pop(kek_id, None)
            for kek in session.get_objects(_kek_query(kek_id)):
                kek.destroy()

        self.token.call(retire)

    def kek_object(self, kek_id: str) -> Any:
        """The token object itself, for inspection (tests check it cannot be extracted)."""
        return self.token.call(lambda session: self._kek(session, kek_id))

    def close(self) -> None:
        self.token.close()

    def _kek(self, session: Any, kek_id: str) -> Any:
        kek = self.token.handles.get(kek_id)
        if kek is None:
            found = list(session.get_objects(_kek_query(kek_id)))
            if not found:
                where = self.config.token_label
                raise KekNotFound(f"the key-encryption key {kek_id} is not in token {where!r}")
            if len(found) > 1:  # two processes made one version at once: refuse to guess
                raise KekNotFound(f"the token holds {len(found)} keys labelled {kek_id}")
            kek = self.token.handles[kek_id] = found[0]
        return kek


def _labels(session: Any) -> list[str]:
    query = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.TOKEN: True}
    return [str(obj[Attribute.LABEL]) for obj in session.get_objects(query)]


def _kek_query(kek_id: str) -> dict[Attribute, Any]:
    return {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.TOKEN: True, Attribute.LABEL: kek_id}
