"""Compile proto/ into the importable `casedesk` package under proto/gen/python (gitignored).

Run by `make proto`; every test and run target depends on it, so generated code is never stale.
It does nothing when the sources and the compiler are unchanged (a stamp records their hash), and
otherwise builds beside the old tree and swaps it in, so running processes rarely see a gap.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = PROTO / "gen" / "python"


def _fingerprint(sources: list[str]) -> str:
    digest = hashlib.sha256(grpc_tools.__file__.encode())
    digest.update(getattr(grpc_tools, "__version__", "").encode())
    for source in sources:
        digest.update(source.encode())
        digest.update((PROTO / source).read_bytes())
    return digest.hexdigest()


def main() -> int:
    sources = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "casedesk").rglob("*.proto"))
    stamp = OUT / ".stamp"
    fingerprint = _fingerprint(sources)
    if stamp.exists() and stamp.read_text() == fingerprint and "--force" not in sys.argv:
        print("generated code is up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fresh = pathlib.Path(tempfile.mkdtemp(prefix="python-", dir=OUT.parent))
    if _compile(sources, fresh) != 0:
        shutil.rmtree(fresh)
        return 1
    (fresh / ".stamp").write_text(fingerprint)
    if OUT.exists():
        retired = pathlib.Path(tempfile.mkdtemp(prefix="retired-", dir=OUT.parent))
        OUT.rename(retired / "python")
        fresh.rename(OUT)
        shutil.rmtree(retired)
    else:
        fresh.rename(OUT)
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}")
    return 0


def _compile(sources: list[str], out: pathlib.Path) -> int:
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        return 1
    # Every directory becomes a regular package so that tools and type checkers find it.
    for directory in [out / "casedesk", *(out / "casedesk").rglob("*")]:
        if directory.is_dir():
            (directory / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
