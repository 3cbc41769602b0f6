"""Compile proto/ into the importable `casedesk` package under proto/gen/python (gitignored).

Run by `make proto`; every test and run target depends on it, so generated code is never stale.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = PROTO / "gen" / "python"


def main() -> int:
    sources = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "casedesk").rglob("*.proto"))
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *sources,
    ]
    if protoc.main(args) != 0:
        return 1
    # Every directory becomes a regular package so that tools and type checkers find it.
    for directory in [OUT / "casedesk", *(OUT / "casedesk").rglob("*")]:
        if directory.is_dir():
            (directory / "__init__.py").touch()
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
