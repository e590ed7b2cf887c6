#!/usr/bin/env python3
"""tools/bench/datakit_intake.py: DataKit's two intakes for tools/bench/outbox.

    datakit_intake.py PORT_FILE RECORDS_JSONL [PORT]

Listens on 127.0.0.1:PORT (default 0: a free one; written to PORT_FILE). Unlike
tests/helpers/datakit_receiver (strict, bodies held in memory up to 64 MiB),
it streams any size: a body is read in 1 MiB chunks and dropped, keeping only
its first and last 64 KiB to check the multipart shape DataKit's profiling
intake needs (the Content-Type's boundary opens the body and closes it with
"--", a part name="main" or a Go attachment first, the event part
name="event" last, holding JSON with tags_profiler, start, end). A
malformed body is answered 400. Each request is one JSON line in
RECORDS_JSONL: path, bytes, t_start and t_end (time.time(): the bench's
clock), ok. POST /v1/write/logging (line protocol) is counted the same way.
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20
KEEP = 64 << 10
LOCK = threading.Lock()


def shape_ok(ctype, head, tail):
    m = re.search(r'boundary="?([^";]+)"?', ctype or "")
    if not m:
        return False
    b = m.group(1).encode()
    if not head.startswith(b"--" + b + b"\r\n"):
        return False
    if not tail.rstrip(b"\r\n").endswith(b"--" + b + b"--"):
        return False
    first = head.split(b"\r\n\r\n", 1)[0]
    if b'name="main"' not in first and b'.pprof"' not in first:
        return False
    last = tail.rsplit(b"--" + b + b"\r\n", 1)
    if len(last) != 2 or b'name="event"' not in last[1].split(b"\r\n\r\n", 1)[0]:
        return False
    event = last[1].split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--" + b + b"--", 1)[0]
    try:
        ev = json.loads(event)
    except ValueError:
        return False
    return all(k in ev for k in ("tags_profiler", "start", "end"))


class Intake(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the sink keeps its connection alive
    # the answer's head and body are two writes: with Nagle the second waits
    # for the client's delayed ACK, 40 ms a request (DataKit, in Go, sets
    # TCP_NODELAY too)
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        t0 = time.time()
        left = int(self.headers.get("Content-Length", "0"))
        n, head, tail = 0, b"", b""
        while left > 0:
            buf = self.rfile.read(min(CHUNK, left))
            if not buf:
                break
            left -= len(buf)
            n += len(buf)
            if len(head) < KEEP:
                head += buf[: KEEP - len(head)]
            tail = (tail + buf)[-KEEP:]
        path = self.path.split("?")[0]
        if path == "/profiling/v1/input":
            ok = shape_ok(self.headers.get("Content-Type"), head, tail)
        else:
            ok = path == "/v1/write/logging" and n > 0
        body = b"{}" if ok else b'{"error":"malformed"}'
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        rec = {"path": path, "bytes": n, "t_start": t0, "t_end": time.time(), "ok": ok}
        with LOCK, open(sys.argv[2], "a") as f:
            f.write(json.dumps(rec) + "\n")


def main():
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Intake)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os

    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
