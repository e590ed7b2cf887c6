#!/usr/bin/env python3
"""A Kubernetes API server for the apiclient tests, speaking HTTPS with a
CA of its own and the list/watch protocol of /api/v1/pods as a real one
does, from the fixtures of tests/data/kube.

    kubeapi_server.py DIR

Writes into DIR, with openssl: ca.crt (the CA that signed the server's
certificate for 127.0.0.1), other-ca.crt (a CA that did not), token
("token-1"), and accepted-token (the token it accepts; re-read at every
request, so a test rotates tokens by rewriting it: any other -> 401).
Listens on 127.0.0.1 and prints "PORT <n>" once it accepts connections.

LIST  ?fieldSelector=spec.nodeName=worker-2&limit=N: podlist-page1.json,
      then with its continue token podlist-page2.json; another token, or
      the same while DIR/expire-continue exists -> 410 Expired.
WATCH ?watch=1&resourceVersion=4413600&allowWatchBookmarks=true:
      watch-stream.jsonl as a chunked body cut into uneven writes (events
      split across writes, several events in one write), each flushed;
      resourceVersion=1 -> 410 Gone.
Every request is appended to DIR/requests.log as "<status> <path?query>".

    kubeapi_server.py DIR --live [--port N]

The watcher tests' server: it holds the Pods of the two list fixtures as
its state and serves LIST from it in pages of LIVE_PAGE (fewer than the
limit asked, as a real server may), every page of one snapshot. A WATCH
follows DIR/events.jsonl as the test appends to it (each line consumed by
one watch; a new watch takes over from an older one):
  {"type":...,"object":...}  applied to the state and sent (its
                             resourceVersion becomes the state's)
  QUIET {"type":...}         applied to the state, not sent (a change the
                             watch misses)
  CLOSE                      ends the stream
  GONE                       sends an ERROR event, 410 Expired, and ends it
With --port the server listens there (a restart on the same port) and keeps
the PKI and tokens DIR already holds.

    kubeapi_server.py DIR --pods FILE [--node NAME] [--port N]

--live whose initial state is the Pods of FILE (a JSON object
{"items":[Pod...]} or a JSON list of Pods) instead of the two list
fixtures. --node (any mode): the node the fieldSelector must name
(default worker-2).

Events, in every mode, with the token checked as for the Pods:
POST  /api/v1/namespaces/<ns>/events (application/json): 201 with the
      Event echoed (resourceVersion, uid, creationTimestamp set) and its
      body, as received, appended as one line to DIR/events-posted.jsonl;
      400 a body that is not an Event or whose namespace is not <ns>, 409 a
      name that exists, 415 another content type, 422 no name or an
      involvedObject in another namespace.
PATCH /api/v1/namespaces/<ns>/events/<name>
      (application/strategic-merge-patch+json): 200 with the Event merged,
      {"namespace","name","patch"} appended to DIR/events-patched.jsonl;
      404 when no such Event (never made, or expired).
A test forces failures with files in DIR, checked at each such request:
  events-forbidden  403 (RBAC)       events-fail  500
  events-hang       the request is held unanswered while it exists
                    (DIR/events-held is created when one is)
  events-expire     every stored Event is forgotten (their TTL passed);
                    the file is removed

A slow or flaky API server, with files in DIR checked at each GET of the
Pods (LIST and WATCH, before the token is):
  slow-ms           holding a number N: the answer is delayed N ms
  stall             the request is held unanswered while it exists
                    (DIR/stall-held is created when one is)
  cut-watch-ms      holding a number N (--live): every watch stream is cut
                    N ms after it began, the connection closed without
                    the chunked body's end, as a load balancer's idle
                    timeout does (a line read from events.jsonl is always
                    sent before the cut)
Down and back: stop the server and start it again with --port.
--live keeps DIR/state.json, {"resourceVersion": N, "pods": [Pod...]},
the state after every change: what the clients should end up with.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit



def option(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


DIR = sys.argv[1]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "kube")
NODE = option("--node", "worker-2")
# the cut of the watch body: 1 byte, a piece of an event, several events...
WRITES = [1, 700, 3, 9000, 50, 20000]
PODS = option("--pods")
LIVE = "--live" in sys.argv or PODS is not None
PORT = int(option("--port", "0"))
LIVE_PAGE = 2
EVENTS = os.path.join(DIR, "events.jsonl")


def openssl(*args):
    subprocess.run(["openssl", *args], cwd=DIR, check=True, capture_output=True)


def make_pki():
    if os.path.exists(os.path.join(DIR, "ca.crt")):
        return  # a restart: the clients trust this CA and hold this token
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt",
                "-days", "2", "-subj", "/CN=flameshot-test-" + ca)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(DIR, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    for name in ("token", "accepted-token"):
        with open(os.path.join(DIR, name), "w") as f:
            f.write("token-1\n")


def fixture(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log_request_line(self, code):
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write("%d %s\n" % (code, self.path))

    def send_json(self, code, obj):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.log_request_line(code)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        with open(os.path.join(DIR, "accepted-token")) as f:
            accepted = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + accepted:
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    def do_GET(self):
        self.slow_down()
        if not self.authorized():
            return
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/api/v1/pods" or q.get("fieldSelector") != "spec.nodeName=" + NODE:
            return self.send_json(400, status(400, "BadRequest", "unexpected request"))
        if LIVE and q.get("watch") in ("1", "true"):
            return self.live_watch(q)
        if LIVE:
            return self.live_list(q)
        if q.get("watch") in ("1", "true"):
            return self.watch(q)
        return self.list(q)

    def slow_down(self):
        """What a slow or stalled server does to a GET (DIR/slow-ms, DIR/stall)."""
        if self.flag("stall"):
            open(os.path.join(DIR, "stall-held"), "a").close()
            while self.flag("stall"):
                time.sleep(0.01)
        ms = number(os.path.join(DIR, "slow-ms"))
        if ms:
            time.sleep(ms / 1000.0)

    def live_list(self, q):
        with live.lock:
            if "continue" in q:
                snap = live.snapshots.get(q["continue"])
                if snap is None:
                    return self.send_json(410, status(410, "Expired",
                                                      "The provided continue parameter is too old"))
            else:
                snap = (str(live.rv), list(live.pods.values()))
            rv, items = snap
            page, rest = items[:LIVE_PAGE], items[LIVE_PAGE:]
            meta = {"resourceVersion": rv}
            if rest:
                live.serial += 1
                token = "live-%d" % live.serial
                live.snapshots[token] = (rv, rest)
                meta["continue"] = token
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                             "items": page})

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def live_watch(self, q):
        if q.get("allowWatchBookmarks") != "true" or "timeoutSeconds" not in q:
            return self.send_json(400, status(400, "BadRequest", "not a watch we expect"))
        if q.get("resourceVersion") == "1":
            return self.send_json(410, status(410, "Gone", "too old resource version: 1"))
        with live.lock:
            live.watch_serial += 1
            me = live.watch_serial
        self.log_request_line(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        end = time.monotonic() + int(q["timeoutSeconds"])
        cut = number(os.path.join(DIR, "cut-watch-ms"))
        cut_at = time.monotonic() + cut / 1000.0 if cut else None
        while time.monotonic() < end:
            if cut_at is not None and time.monotonic() >= cut_at:
                self.close_connection = True  # no end chunk: the body is cut
                return
            with live.lock:
                if live.watch_serial != me:
                    return  # a newer watch took over
                line = live.next_line()
            if line is None:
                time.sleep(0.01)
                continue
            if line == "CLOSE":
                break
            if line == "GONE":
                gone = status(410, "Expired", "too old resource version")
                self.send_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                break
            quiet = line.startswith("QUIET ")
            ev = json.loads(line[6:] if quiet else line)
            with live.lock:
                live.apply(ev)
            if not quiet:
                self.send_chunk(json.dumps(ev).encode() + b"\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def list(self, q):
        page1 = json.loads(fixture("podlist-page1.json"))
        token = page1["metadata"]["continue"]
        if "limit" not in q:
            return self.send_json(400, status(400, "BadRequest", "no limit"))
        if "continue" not in q:
            return self.send_json(200, page1)
        if q["continue"] != token or os.path.exists(os.path.join(DIR, "expire-continue")):
            return self.send_json(410, status(410, "Expired",
                                              "The provided continue parameter is too old"))
        return self.send_json(200, fixture("podlist-page2.json"))

    def watch(self, q):
        if q.get("allowWatchBookmarks") != "true" or "timeoutSeconds" not in q:
            return self.send_json(400, status(400, "BadRequest", "not a watch we expect"))
        if q.get("resourceVersion") == "1":
            return self.send_json(410, status(410, "Gone",
                                              "too old resource version: 1 (4413600)"))
        self.log_request_line(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        body, off, i = fixture("watch-stream.jsonl"), 0, 0
        while off < len(body):
            piece = body[off:off + WRITES[i % len(WRITES)]]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            time.sleep(0.002)  # a write of its own, not merged with the next
            off, i = off + len(piece), i + 1
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def events_request(self, method, content_type):
        """An Event request's namespace, name (None for a POST) and body
        (a JSON object), or None once it has been answered (an unknown
        path, a forced failure, a body that is not a JSON object of
        content_type)."""
        body = self.read_body()  # read in any case: the connection goes on
        if not self.authorized():
            return None
        parts = urlsplit(self.path).path.split("/")
        # /api/v1/namespaces/<ns>/events[/<name>]
        ok = parts[:4] == ["", "api", "v1", "namespaces"] and len(parts) in (6, 7) and \
            parts[5] == "events" and (len(parts) == 7) == (method == "PATCH")
        if not ok or not parts[4] or (len(parts) == 7 and not parts[6]):
            self.send_json(404, status(404, "NotFound", "the server could not find the "
                                       "requested resource"))
            return None
        ns = parts[4]
        verb = "create" if method == "POST" else "patch"
        if self.flag("events-forbidden"):
            self.send_json(403, status(403, "Forbidden", 'events is forbidden: User '
                                       '"system:serviceaccount:flameshot:flameshot" cannot %s '
                                       'resource "events" in API group "" in the namespace '
                                       '"%s"' % (verb, ns)))
            return None
        if self.flag("events-fail"):
            self.send_json(500, status(500, "InternalError", "etcdserver: request timed out"))
            return None
        if self.flag("events-hang"):
            open(os.path.join(DIR, "events-held"), "a").close()
            while self.flag("events-hang"):
                time.sleep(0.01)
        if self.flag("events-expire"):
            os.unlink(os.path.join(DIR, "events-expire"))
            with events.lock:
                events.items.clear()
        obj = self.parsed(body, content_type)
        return None if obj is None else (ns, parts[6] if len(parts) == 7 else None, obj)

    @staticmethod
    def flag(name):
        return os.path.exists(os.path.join(DIR, name))

    def parsed(self, body, content_type):
        if self.headers.get("Content-Type") != content_type:
            self.send_json(415, status(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format"))
            return None
        try:
            obj = json.loads(body)
        except ValueError as e:
            self.send_json(400, status(400, "BadRequest", "invalid JSON: %s" % e))
            return None
        if not isinstance(obj, dict):
            self.send_json(400, status(400, "BadRequest", "not a JSON object"))
            return None
        return obj

    def do_POST(self):
        req = self.events_request("POST", "application/json")
        if req is None:
            return
        ns, _, ev = req
        meta = ev.get("metadata") or {}
        if ev.get("kind", "Event") != "Event" or meta.get("namespace", ns) != ns:
            return self.send_json(400, status(400, "BadRequest", "the namespace of the provided "
                                              "object does not match the namespace sent on the "
                                              "request"))
        name = meta.get("name")
        if not name or (ev.get("involvedObject") or {}).get("namespace") != ns:
            return self.send_json(422, status(422, "Invalid", "Event is invalid: metadata.name "
                                              "or involvedObject.namespace"))
        with events.lock:
            if (ns, name) in events.items:
                return self.send_json(409, status(409, "AlreadyExists",
                                                  'events "%s" already exists' % name))
            stored = json.loads(json.dumps(ev))
            events.serial += 1
            stored["metadata"].update({"namespace": ns, "resourceVersion": str(events.serial),
                                       "uid": "ev-%d" % events.serial,
                                       "creationTimestamp": time.strftime(
                                           "%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            events.items[(ns, name)] = stored
            with open(os.path.join(DIR, "events-posted.jsonl"), "ab") as f:
                f.write(json.dumps(ev).encode() + b"\n")
            self.send_json(201, stored)

    def do_PATCH(self):
        req = self.events_request("PATCH", "application/strategic-merge-patch+json")
        if req is None:
            return
        ns, name, patch = req
        with events.lock:
            stored = events.items.get((ns, name))
            if stored is None:
                return self.send_json(404, status(404, "NotFound",
                                                  'events "%s" not found' % name))
            merge(stored, patch)
            events.serial += 1
            stored["metadata"]["resourceVersion"] = str(events.serial)
            line = {"namespace": ns, "name": name, "patch": patch}
            with open(os.path.join(DIR, "events-patched.jsonl"), "ab") as f:
                f.write(json.dumps(line).encode() + b"\n")
            self.send_json(200, stored)


def number(path):
    """The number a file holds; 0 when there is no such file (or no number)."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def merge(into, patch):
    """A merge patch of the Event fields (maps merge, null deletes, the
    rest replaces): what a strategic merge patch does to an Event."""
    for k, v in patch.items():
        if v is None:
            into.pop(k, None)
        elif isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


class Events:
    """The Events the server holds, by (namespace, name)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items, self.serial = {}, 0


events = Events()


class Live:
    """The state of --live: Pods by uid, the resourceVersion, the list
    snapshots by continue token, the read offset in DIR/events.jsonl."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pods, self.snapshots, self.serial, self.watch_serial = {}, {}, 0, 0
        if PODS:
            with open(PODS) as f:
                given = json.load(f)
            items = given["items"] if isinstance(given, dict) else given
            rvs = [int(p["metadata"].get("resourceVersion") or 0) for p in items]
            self.rv = max(rvs, default=1)
        else:
            page1 = json.loads(fixture("podlist-page1.json"))
            page2 = json.loads(fixture("podlist-page2.json"))
            items = page1["items"] + page2["items"]
            self.rv = int(page1["metadata"]["resourceVersion"])
        for pod in items:
            self.pods[pod["metadata"]["uid"]] = pod
        # a restarted server serves only what is appended after its start
        self.offset = os.path.getsize(EVENTS) if os.path.exists(EVENTS) else 0
        self.save()

    def next_line(self):
        if not os.path.exists(EVENTS):
            return None
        with open(EVENTS, "rb") as f:
            f.seek(self.offset)
            data = f.readline()
        if not data.endswith(b"\n"):
            return None
        self.offset += len(data)
        return data.decode().strip() or None

    def apply(self, ev):
        obj = ev["object"]
        self.rv = int(obj["metadata"]["resourceVersion"])
        if ev["type"] in ("ADDED", "MODIFIED"):
            self.pods[obj["metadata"]["uid"]] = obj
        elif ev["type"] == "DELETED":
            self.pods.pop(obj["metadata"]["uid"], None)
        self.save()

    def save(self):
        state = {"resourceVersion": str(self.rv), "pods": list(self.pods.values())}
        tmp = os.path.join(DIR, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.rename(tmp, os.path.join(DIR, "state.json"))


live = None


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client that went away (a test stopping one that waited on a
        # held request) is not an error of the server's
        if not issubclass(sys.exc_info()[0], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


def main():
    global live
    make_pki()
    if LIVE:
        live = Live()
    srv = Server(("127.0.0.1", PORT), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(DIR, "server.crt"), os.path.join(DIR, "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
