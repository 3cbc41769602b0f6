"""A file of length-prefixed records: replays without a broker (tests, captures, hand-offs).

Layout: the magic line `casedesk-replay-records/2\\n`, a JSON line saying which window of the
streams the file holds (`{"window": {"since": ISO or null, "until": ISO or null}}`, or
`{"window": null}` when unknown), then per record a 1-byte stream-name length, a 4-byte
big-endian value length, the stream name (`case`, `sla`, ...) and the value (the serialized
protobuf payload, exactly as it was on the topic). Positions are byte offsets.

The window matters to gap detection: a capture that starts at `--since` begins in the middle of
cases, and its first versions are not missing. Files of version 1 (no window line) are still
read; their window is unknown.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from casedesk_replay.sources import EVERYTHING, Batch, SourceError, TimeRange
from casedesk_replay.topics import Stream
from casedesk_replay.wire import UndecodableRecord, decode_many

MAGIC = b"casedesk-replay-records/2\n"
MAGIC_V1 = b"casedesk-replay-records/1\n"
_WINDOW_LINE_MAX = 4096
_HEADER = struct.Struct(">BI")
_PART = "records"


@dataclass(frozen=True)
class FileHeader:
    window: TimeRange | None  # the streams' window the file holds; None: it does not say
    size: int  # bytes before the first record


def window_line(window: TimeRange | None) -> bytes:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    plain = None if window is None else {"since": iso(window.since), "until": iso(window.until)}
    return json.dumps({"window": plain}).encode() + b"\n"


def parse_header(head: bytes, path: Path) -> FileHeader:
    """The header of a record file from its first bytes (at least the magic and window line)."""
    if head.startswith(MAGIC_V1):
        return FileHeader(None, len(MAGIC_V1))
    if not head.startswith(MAGIC):
        raise SourceError(f"{path} is not a casedesk-replay record file")
    end = head.find(b"\n", len(MAGIC))
    try:
        if end < 0:
            raise ValueError("no window line")
        plain = json.loads(head[len(MAGIC) : end])["window"]
        window = None
        if plain is not None:
            since, until = (datetime.fromisoformat(t) if t else None
                            for t in (plain["since"], plain["until"]))  # fmt: skip
            window = TimeRange(since, until)
    except (ValueError, KeyError, TypeError) as error:
        raise SourceError(f"{path}: damaged header: {error}") from error
    return FileHeader(window, end + 1)


def read_header(path: Path) -> FileHeader:
    try:
        with path.open("rb") as file:
            head = file.read(len(MAGIC) + _WINDOW_LINE_MAX)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from error
    return parse_header(head, path)


class RecordFileWriter:
    def __init__(self, path: Path, window: TimeRange | None = EVERYTHING) -> None:
        """`window`: what the records cover (None: unknown, e.g. a copy of a version 1 file)."""
        self._file: BinaryIO = path.open("wb")
        self._file.write(MAGIC + window_line(window))

    def write(self, stream: Stream, value: bytes) -> None:
        name = stream.value.encode()
        self._file.write(_HEADER.pack(len(name), len(value)) + name + value)

    def write_all(self, stream: Stream, values: Iterable[bytes]) -> None:
        for value in values:
            self.write(stream, value)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordFileWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.close()


class RecordFileSource:
    name = "file"
    unit = "bytes"

    def __init__(self, path: Path, streams: Sequence[Stream], chunk_records: int = 20_000) -> None:
        self._path = path
        self._streams = frozenset(streams)
        self._chunk = chunk_records
        self._data = b""
        self._position = 0

    async def open(self, resume: Mapping[str, int]) -> int:
        try:
            self._data = self._path.read_bytes()
        except OSError as error:
            raise SourceError(f"cannot read {self._path}: {error.strerror}") from error
        header = parse_header(self._data[: len(MAGIC) + _WINDOW_LINE_MAX], self._path)
        self._position = max(resume.get(_PART, header.size), header.size)
        return len(self._data) - self._position

    async def batches(self) -> AsyncIterator[Batch]:
        data, end = self._data, len(self._data)
        while self._position < end:
            reported = self._position
            for stream, values, position in self._runs(data, end):
                if stream in self._streams:
                    events = self._decode(stream, values)
                elif position < self._position:
                    continue  # skipped bytes are reported with the next batch
                else:
                    events = []
                yield Batch(stream, events, _PART, position, position - reported)
                reported = position

    def _runs(self, data: bytes, end: int) -> list[tuple[Stream, list[bytes], int]]:
        """The next chunk of records as runs of one stream, each with the position after it."""
        runs: list[tuple[Stream, list[bytes], int]] = []
        values: list[bytes] = []
        current: Stream | None = None
        for _ in range(self._chunk):
            if self._position >= end:
                break
            before = self._position
            stream, value = self._read(data, end)
            if stream is not current and current is not None:
                runs.append((current, values, before))
                values = []
            current = stream
            values.append(value)
        if current is not None:
            runs.append((current, values, self._position))
        return runs

    def _decode(self, stream: Stream, values: list[bytes]) -> list[object]:
        try:
            return decode_many(stream, values)
        except UndecodableRecord as error:
            raise SourceError(f"{self._path}: a {stream} record: {error}") from error

    def _read(self, data: bytes, end: int) -> tuple[Stream, bytes]:
        if self._position + _HEADER.size > end:
            raise SourceError(f"{self._path}: truncated record at byte {self._position}")
        name_length, value_length = _HEADER.unpack_from(data, self._position)
        name_start = self._position + _HEADER.size
        value_start = name_start + name_length
        value_end = value_start + value_length
        if value_end > end:
            raise SourceError(f"{self._path}: truncated record at byte {self._position}")
        try:
            stream = Stream(data[name_start:value_start].decode())
        except ValueError as error:
            raise SourceError(f"{self._path}: unknown stream at byte {self._position}") from error
        self._position = value_end
        return stream, data[value_start:value_end]

    async def close(self) -> None:
        self._data = b""
