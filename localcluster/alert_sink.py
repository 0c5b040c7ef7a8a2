"""The local stack's alert sink: where Alertmanager's notifications go instead of Slack and PagerDuty.

A small HTTP server on 127.0.0.1 that appends each webhook notification it receives, as one JSON line
({"received_at": ..., "notification": <Alertmanager's webhook payload>}), to a file under `.state/`, for tests
and for a person (`scripts/servers alerts` prints them).

    python -m localcluster.alert_sink --port PORT --file .state/monitoring/alerts.jsonl
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def read_notifications(file: Path) -> list[dict]:
    """Every notification recorded in `file` (oldest first); none when the file does not exist yet."""
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def alert_lines(records: list[dict]) -> list[str]:
    """One line per alert of each notification: when, status, severity, name, receiver, labels, runbook."""
    lines = []
    for record in records:
        notification = record["notification"]
        for alert in notification.get("alerts", []):
            labels = dict(alert.get("labels", {}))
            name, severity = labels.pop("alertname", "?"), labels.pop("severity", "-")
            rest = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            lines.append(f"{record['received_at']}  {alert.get('status', '?').upper():<8} {severity:<8} {name}  "
                         f"-> {notification.get('receiver', '?')}  {{{rest}}}  "
                         f"runbook: {alert.get('annotations', {}).get('runbook_url', '-')}")
    return lines


def serve(port: int, file: Path) -> None:
    lock = threading.Lock()
    file.parent.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                notification = json.loads(body)
            except ValueError:
                self.send_error(400, "the body is not JSON")
                return
            line = json.dumps({"received_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                               "path": self.path, "notification": notification}, sort_keys=True)
            with lock, file.open("a") as out:
                out.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self):  # noqa: N802
            if self.path != "/health":
                self.send_error(404)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args):  # one line per request would drown the log
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localcluster.alert_sink", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.file)


if __name__ == "__main__":
    main()
