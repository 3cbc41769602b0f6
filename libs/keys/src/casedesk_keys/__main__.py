"""`python -m casedesk_keys`: the key owner's maintenance commands, from CASEDESK_KEYS_*.

rotate [--new-kek]   re-wrap every data key under the newest KEK (--new-kek: make one first);
                     resumable: run it again after an interruption
retire KEK_ID        destroy an old KEK version once no data key is wrapped under it
status               KEK versions and how many data keys each wraps
"""

from __future__ import annotations

import argparse
import sys

from casedesk_keys.errors import KeysError
from casedesk_keys.keyring import Keyring
from casedesk_keys.rotation import retire, rewrap_all, start_rotation
from casedesk_keys.settings import KeysSettings, KeysSettingsError
from casedesk_keys.wiring import open_keyring


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casedesk_keys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser("rotate", help="re-wrap every data key under the newest KEK")
    rotate.add_argument("--new-kek", action="store_true", help="make a new KEK version first")
    retiring = commands.add_parser("retire", help="destroy an old KEK version")
    retiring.add_argument("kek_id")
    commands.add_parser("status", help="KEK versions and the data keys under each")
    args = parser.parse_args(argv)
    try:
        settings = KeysSettings.from_env()
        keyring = open_keyring(settings)
    except (KeysSettingsError, KeysError) as error:
        print(f"casedesk_keys: {error}", file=sys.stderr)
        return 2
    try:
        return _run(args, keyring, settings)
    except KeysError as error:
        print(f"casedesk_keys: {error}", file=sys.stderr)
        return 1
    finally:
        keyring.store.close()
        keyring.kek.close()


def _run(args: argparse.Namespace, keyring: Keyring, settings: KeysSettings) -> int:
    store, kek = keyring.store, keyring.kek
    if args.command == "rotate":
        if args.new_kek:
            print(f"new key-encryption key {start_rotation(kek)}")
        report = rewrap_all(store, kek, settings.rotation_batch)
        print(
            f"re-wrapped {report.rewrapped} data keys under {report.kek_id}, skipped "
            f"{report.skipped} (erased or re-wrapped meanwhile), {report.remaining} left under "
            "older versions"
        )
        return 0 if report.remaining == 0 else 3
    if args.command == "retire":
        retire(store, kek, args.kek_id)
        print(f"retired {args.kek_id}")
        return 0
    counts, held_ids, current = store.counts_by_kek(), kek.kek_ids(), kek.current_kek_id()
    for kek_id in sorted(set(held_ids) | set(counts)):
        mark = " (current)" if kek_id == current else ""
        held = "" if kek_id in held_ids else " MISSING FROM THE PROVIDER"
        print(f"{kek_id}{mark}: {counts.get(kek_id, 0)} data keys{held}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
