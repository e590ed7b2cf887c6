#!/usr/bin/python3
"""A small S3-compatible server for the .hprof upload tests.

Every request's AWS Signature Version 4 is recomputed with an independent
implementation, Debian's python3-botocore (botocore.auth.S3SigV4Auth), from
the request as it arrived: the raw path, the query, the headers named in
SignedHeaders and the x-amz-date. A request that does not verify is
answered 403 as S3 answers it (InvalidAccessKeyId, SignatureDoesNotMatch,
InvalidToken) and logged; so is a body whose SHA-256 differs from its
x-amz-content-sha256.

Supported: PutObject, CreateMultipartUpload (POST ?uploads), UploadPart,
CompleteMultipartUpload (every part but the last at least 5 MiB, as S3),
AbortMultipartUpload, GetObject. One bucket, path-style.

Outage: --outage-after-parts N makes the server, once N parts have been
accepted, either answer every request 503 SlowDown (--outage 503) or stop
listening (--outage refuse: connection refused). SIGUSR1 ends the outage.

State under DIR: port (once listening), requests.jsonl (one line per
request: method, path, query, status, sig), objects/<key> (completed
objects), pid. Run it with /usr/bin/python3 (Debian's, where python3-botocore
is installed).
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import signal
import socket
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MIN_PART = 5 * 1024 * 1024
AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.uploads = {}  # upload id -> {"key": key, "parts": {n: (etag, data)}}
        self.parts_ok = 0
        self.outage = False
        self.log = open(os.path.join(args.dir, "requests.jsonl"), "a", buffering=1)
        os.makedirs(os.path.join(args.dir, "objects"), exist_ok=True)


def s3_error(code, message):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message></Error>" % (code, message)).encode()


def verify(st, method, raw_path, headers, body):
    """None when the request is signed right, else (status, code, message)."""
    a = st.args
    auth = headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        return (403, "AccessDenied", "no AWS4-HMAC-SHA256 Authorization header")
    ak, day, region, service, signed, sig = m.groups()
    if ak != a.access_key:
        return (403, "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.")
    if region != a.region or service != "s3":
        return (400, "AuthorizationHeaderMalformed",
                "the credential scope %s/%s is wrong; expecting %s/s3" % (region, service, a.region))
    names = signed.split(";")
    for need in ("host", "x-amz-date", "x-amz-content-sha256"):
        if need not in names:
            return (403, "AccessDenied", "header %s is not signed" % need)
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return (403, "AccessDenied", "bad x-amz-date %r" % amz_date)
    skew = abs((datetime.datetime.utcnow() - when).total_seconds())
    if skew > 900 or amz_date[:8] != day:
        return (403, "RequestTimeTooSkewed", "x-amz-date is %d s away" % skew)
    token = headers.get("x-amz-security-token")
    if a.token and (token != a.token or "x-amz-security-token" not in names):
        return (403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
    if not a.token and token:
        return (403, "InvalidToken", "a security token was sent to a server that expects none")
    signed_headers = {}
    for n in names:
        v = headers.get_all(n)
        if v is None:
            return (403, "AccessDenied", "signed header %s is missing" % n)
        signed_headers[n] = ",".join(v)
    req = AWSRequest(method=method, url="http://%s%s" % (headers["host"], raw_path),
                     headers=signed_headers, data=body)
    req.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(a.access_key, a.secret_key, a.token), "s3", a.region)
    canonical = signer.canonical_request(req)
    expect = signer.signature(signer.string_to_sign(req, canonical), req)
    if expect != sig:
        return (403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Canonical request: %s" % canonical.replace("\n", "\\n"))
    claimed = headers["x-amz-content-sha256"]
    if claimed != "UNSIGNED-PAYLOAD" and claimed != hashlib.sha256(body).hexdigest():
        return (400, "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3-test"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        st = self.server.st
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = urlsplit(self.path)
        entry = {"method": self.command, "path": parts.path, "query": parts.query,
                 "bytes": len(body)}
        with st.lock:
            outage = st.outage
        if outage:
            entry.update(status=503, sig="not checked")
            st.log.write(json.dumps(entry) + "\n")
            return self.reply(503, s3_error("SlowDown", "Please reduce your request rate."))
        bad = verify(st, self.command, self.path, self.headers, body)
        entry["sig"] = "ok" if bad is None else bad[1]
        if bad:
            entry["status"] = bad[0]
            st.log.write(json.dumps(entry) + "\n")
            return self.reply(bad[0], s3_error(bad[1], bad[2]))
        status, out, hdrs = self.operate(st, parts, body, entry)
        entry["status"] = status
        st.log.write(json.dumps(entry) + "\n")
        self.reply(status, out, hdrs)
        self.maybe_outage(st, entry)

    def maybe_outage(self, st, entry):
        a = st.args
        if entry.get("op") != "UploadPart" or entry["status"] != 200 or a.outage_after_parts <= 0:
            return
        with st.lock:
            st.parts_ok += 1
            start = st.parts_ok == a.outage_after_parts
            if start:
                st.outage = True
        if start:
            st.log.write(json.dumps({"event": "outage", "mode": a.outage}) + "\n")
            if a.outage == "refuse":
                self.close_connection = True  # no kept-alive connection outlives it
                self.server.control.put("stop")

    def operate(self, st, parts, body, entry):
        a = st.args
        path = parts.path
        prefix = "/" + a.bucket + "/"
        if not path.startswith(prefix) or len(path) == len(prefix):
            return 404, s3_error("NoSuchBucket", "The specified bucket does not exist"), {}
        key = unquote(path[len(prefix):])
        entry["key"] = key
        q = dict(p.partition("=")[::2] for p in parts.query.split("&") if p)
        q = {k: unquote(v) for k, v in q.items()}
        m = self.command
        with st.lock:
            if m == "PUT" and "uploadId" in q:
                entry["op"] = "UploadPart"
                num = int(q.get("partNumber", "0"))
                entry["part"] = num
                up = st.uploads.get(q["uploadId"])
                if not up or up["key"] != key:
                    return 404, s3_error("NoSuchUpload", "The specified upload does not exist."), {}
                etag = '"%s"' % hashlib.md5(body).hexdigest()
                up["parts"][num] = (etag, body)
                return 200, b"", {"ETag": etag}
            if m == "PUT":
                entry["op"] = "PutObject"
                self.store(st, key, body)
                return 200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}
            if m == "POST" and "uploads" in q:
                entry["op"] = "CreateMultipartUpload"
                uid = uuid.uuid4().hex + "~x/y+z="  # characters a client must encode
                st.uploads[uid] = {"key": key, "parts": {}}
                entry["upload_id"] = uid
                return 200, ("<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                             "<UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                             % (a.bucket, key, uid)).encode(), {}
            if m == "POST" and "uploadId" in q:
                entry["op"] = "CompleteMultipartUpload"
                return self.complete(st, key, q["uploadId"], body, entry)
            if m == "DELETE" and "uploadId" in q:
                entry["op"] = "AbortMultipartUpload"
                st.uploads.pop(q["uploadId"], None)
                return 204, b"", {}
            if m in ("GET", "HEAD"):
                entry["op"] = "GetObject"
                p = os.path.join(a.dir, "objects", key)
                if not os.path.isfile(p):
                    return 404, s3_error("NoSuchKey", "The specified key does not exist."), {}
                with open(p, "rb") as f:
                    return 200, f.read(), {}
        return 400, s3_error("InvalidRequest", "unsupported request"), {}

    def complete(self, st, key, uid, body, entry):
        up = st.uploads.get(uid)
        if not up or up["key"] != key:
            return 404, s3_error("NoSuchUpload", "The specified upload does not exist."), {}
        listed = re.findall(r"<Part>\s*<PartNumber>(\d+)</PartNumber>\s*<ETag>([^<]+)</ETag>\s*</Part>",
                            body.decode())
        if not listed:
            return 400, s3_error("MalformedXML", "no parts listed"), {}
        data = []
        for i, (num, etag) in enumerate(listed):
            num = int(num)
            etag = etag.replace("&quot;", '"')
            have = up["parts"].get(num)
            if not have or have[0] != etag:
                return 400, s3_error("InvalidPart", "part %d is missing or its ETag differs" % num), {}
            if i + 1 < len(listed) and len(have[1]) < MIN_PART:
                return 400, s3_error("EntityTooSmall", "part %d is below 5 MiB" % num), {}
            if i and num <= int(listed[i - 1][0]):
                return 400, s3_error("InvalidPartOrder", "parts are not in ascending order"), {}
            data.append(have[1])
        self.store(st, key, b"".join(data))
        entry["parts"] = len(listed)
        del st.uploads[uid]
        return 200, ("<CompleteMultipartUploadResult><Key>%s</Key></CompleteMultipartUploadResult>"
                     % key).encode(), {}

    @staticmethod
    def store(st, key, data):
        p = os.path.join(st.args.dir, "objects", key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(st, port, control):
    srv = Server(("127.0.0.1", port), Handler)
    srv.st = st
    srv.control = control
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    import queue
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--bucket", default="dumps")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key", default="AKIDTEST")
    ap.add_argument("--secret-key", default="secret/test+key")
    ap.add_argument("--token", default="")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--outage-after-parts", type=int, default=0)
    ap.add_argument("--outage", choices=("503", "refuse"), default="refuse")
    a = ap.parse_args()
    a.token = a.token or None
    st = State(a)
    control = queue.Queue()
    signal.signal(signal.SIGUSR1, lambda *_: control.put("heal"))
    signal.signal(signal.SIGTERM, lambda *_: control.put("exit"))
    srv = serve(st, a.port, control)
    port = srv.server_address[1]
    with open(os.path.join(a.dir, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(a.dir, "port.tmp"), os.path.join(a.dir, "port"))
    while True:
        try:
            cmd = control.get(timeout=0.5)
        except queue.Empty:
            continue
        if cmd == "exit":
            break
        if cmd == "stop" and srv:
            srv.shutdown()
            srv.server_close()
            srv = None
        if cmd == "heal":
            with st.lock:
                st.outage = False
            st.log.write(json.dumps({"event": "healed"}) + "\n")
            if srv is None:
                srv = serve(st, port, control)
    if srv:
        srv.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
