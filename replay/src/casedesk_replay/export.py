"""Writing tables to Parquet and CSV files in an output directory (one file per table)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


class Format(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


def write_tables(
    tables: Mapping[str, pa.Table], directory: Path, formats: tuple[Format, ...]
) -> list[Path]:
    """Write every table in every format; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        for kind in formats:
            path = directory / f"{name}.{kind.value}"
            if kind is Format.PARQUET:
                pq.write_table(table, path, compression="zstd")
            else:
                pa_csv.write_csv(table, path)
            written.append(path)
    return written
