"""A development SMTP server that keeps every message it accepts as an .eml file."""

import argparse
import asyncio
import pathlib
import uuid

from aiosmtpd.controller import Controller


class KeepEverything:
    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        (self.directory / f"{uuid.uuid4()}.eml").write_bytes(envelope.original_content)
        return "250 OK"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    controller = Controller(KeepEverything(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
