"""The Kafka partition of each case id, hashed once per case rather than once per record.

aiokafka's default partitioner hashes every record's key with a pure-Python murmur2 (about 10 µs a
record); the relay keys every event of a case with the case id, so the hash is kept per key. The
partition chosen is the default partitioner's, so a case's events go where they always went.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner, murmur2

# Case ids seen lately; when full the memory starts over (hashing again is only slower).
MAX_KEYS = 100_000


class CaseKeyPartitioner:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._hashes: dict[bytes, int] = {}
        self._default = DefaultPartitioner()

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: list[int]
    ) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]
