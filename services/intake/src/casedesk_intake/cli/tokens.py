"""`casedesk-intake-token NAME CHANNEL...`: a new frontend token and its configuration entry.

The token is printed once, for the frontend's secret store; intake's configuration keeps only
its SHA-256.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from casedesk_intake.domain.frontends import CHANNELS, token_digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create a token for a channel frontend.")
    parser.add_argument("name", help="frontend name, e.g. portal-chat")
    parser.add_argument("channels", nargs="+", choices=CHANNELS, help="channels it may use")
    args = parser.parse_args(argv)
    token = secrets.token_urlsafe(32)
    print(f"# token for {args.name} (give it to the frontend, store it nowhere else):")
    print(f"# {token}")
    print("[[frontend]]")
    print(f'name = "{args.name}"')
    print(f'token_sha256 = "{token_digest(token)}"')
    print("channels = [" + ", ".join(f'"{c}"' for c in args.channels) + "]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
