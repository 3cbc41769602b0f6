"""A development SMS gateway: accepts POSTs and appends each body as a JSON line to a file."""

import argparse
import json
import pathlib
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler_for(journal: pathlib.Path) -> type[BaseHTTPRequestHandler]:
    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            message_id = str(uuid.uuid4())
            with journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"id": message_id, "body": body.decode()}) + "\n")
            reply = json.dumps({"message_id": message_id}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:  # phone numbers stay out of the console
            pass

    return Gateway


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--file", type=pathlib.Path, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(args.file)).serve_forever()


if __name__ == "__main__":
    main()
