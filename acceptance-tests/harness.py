"""Test harness: the local AWS emulator, a recording (and fault-injecting) proxy in front
of it, and a small driver for the real `terraform` binary using the locally built provider.

Everything binds to 127.0.0.1, every wait is bounded, every process started here is
stopped by its owner (the pytest fixtures in conftest.py).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

from strict_aws import Params, Strict, StrictLayer

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV = REPO_ROOT / ".venv"
PROVIDER_SOURCE = "datomic-community/datomic"
PROVIDER_ADDR = f"registry.terraform.io/{PROVIDER_SOURCE}"
BINARY_NAME = "terraform-provider-datomic"
REGION = "us-east-1"
FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # never look for an EC2 instance metadata service from a test
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Env vars of the caller that must not leak into terraform / the provider.
_SCRUB_PREFIXES = ("TF_", "AWS_", "PLUGIN_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def http_ok(url: str, method: str = "GET", timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
            return 200 <= r.status < 300
    except (OSError, urllib.error.URLError):
        return False


def stop_process_group(proc: subprocess.Popen, grace: float = 5.0, first: int = signal.SIGTERM) -> None:
    """Stops a process started with start_new_session=True, and its whole group."""
    if proc.poll() is not None:
        return
    for sig, wait in ((first, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def processes_of(binary: Path, session: int | None = None) -> list[int]:
    """Pids of running processes whose executable is `binary` (optionally only those in
    the session `session`, i.e. started under a process that called setsid())."""
    target = str(binary.resolve())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            if exe.removesuffix(" (deleted)") != target:
                continue
            if session is not None:
                stat = Path(f"/proc/{pid}/stat").read_text()
                # fields after the ")" closing the command name: state ppid pgrp session ...
                fields = stat.rsplit(")", 1)[1].split()
                if fields[0] == "Z" or int(fields[3]) != session:
                    continue
            found.append(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
    return found


# --------------------------------------------------------------------------------------
# Recording / fault-injecting proxy
# --------------------------------------------------------------------------------------

_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Query", "Scan", "BatchGet", "Search", "Lookup")
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
}
_SIGV4_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_RPCV2_PATH = re.compile(r"/service/[^/]+/operation/([^/?]+)")


@dataclass(frozen=True)
class Call:
    """One request the proxy saw. `service` is the SigV4 signing name (ec2, iam,
    autoscaling, s3, dynamodb, sts, ...); `action` the operation name for query/JSON/CBOR
    protocols (RunInstances, PutItem) and "METHOD /path[?subresources]" for REST (S3)."""

    service: str
    action: str
    method: str
    path: str
    protocol: str = "query"  # "query" (Action= form), "json" (X-Amz-Target), "cbor", "rest"
    status: int = 0  # 0: no response was sent (dropped)
    fault: str | None = None  # kind of the fault injected into this call, if any

    @property
    def is_write(self) -> bool:
        if self.protocol == "rest":
            if self.service == "route53" and _ROUTE53_READ_POST.search(self.path):
                return False  # ListTagsForResources reads by POST
            return self.method not in ("GET", "HEAD", "OPTIONS")
        return not self.action.startswith(_READ_PREFIXES)


# Route53's ListTagsForResources (POST /<version>/tags/<resource type>): a read, unlike
# ChangeTagsForResource (POST /<version>/tags/<resource type>/<id>).
_ROUTE53_READ_POST = re.compile(r"^/[^/]+/tags/[^/]+/?$")


def classify(method: str, raw_path: str, headers: Any, body: bytes) -> Call:
    """Names the AWS service and operation of a request, without knowing the services."""
    m = _SIGV4_SCOPE.search(headers.get("Authorization", "") or "")
    service = m.group(1) if m else ""
    parsed = urllib.parse.urlsplit(raw_path)
    action, protocol = "", "query"
    target = headers.get("X-Amz-Target")
    if target:  # JSON protocols: "DynamoDB_20120810.PutItem"
        action, protocol = target.rsplit(".", 1)[-1], "json"
    elif (m2 := _RPCV2_PATH.search(parsed.path)) is not None:  # smithy rpc-v2-cbor
        action, protocol = m2.group(1), "cbor"
    else:
        ctype = headers.get("Content-Type", "") or ""
        form: dict[str, list[str]] = {}
        if method == "POST" and "x-www-form-urlencoded" in ctype:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if "Action" in form:
            action = form["Action"][0]
        elif "Action" in query:
            action = query["Action"][0]
        else:  # REST (S3): method, path and the names of sub-resources (?tagging, ?versioning)
            sub = "&".join(sorted(query))
            action = f"{method} {parsed.path}" + (f"?{sub}" if sub else "")
            protocol = "rest"
    return Call(service=service, action=action, method=method, path=parsed.path, protocol=protocol)


@dataclass
class Fault:
    """A fault to inject into matching calls.

    kind: "throttle"  the service's throttling error (EC2 RequestLimitExceeded 503,
                      query Throttling 400, JSON ThrottlingException 400, S3 SlowDown 503)
          "error500"  an internal error 500 in the service's error format
          "error503"  a 503 ServiceUnavailable in the service's error format
          "drop"      close the connection without forwarding or answering
          "drop_response"  forward to the emulator (the call takes effect), then close
                      the connection without answering (tests idempotency)
          "delay"     forward after sleeping `delay` seconds
          "error"     the error `code` with HTTP `status` (and `message`) in the
                      service's format, e.g. Fault("error", code="NoSuchEntity",
                      status=404) for IAM's eventual consistency (`error_type` is
                      the query protocol's <Type>, "Sender" unless given)
          "respond"   answer with `response` (status, headers, body) without
                      forwarding, e.g. an earlier answer of the emulator replayed
                      (AWS's idempotent creates answer a repeat as the first call)
    service/action: None matches any; action is an exact name or a compiled regex.
    rate: probability per matching call; times: stop after that many injections.
    """

    kind: str
    service: str | None = None
    action: str | re.Pattern[str] | None = None
    rate: float = 1.0
    times: int | None = None
    delay: float = 0.0
    only_writes: bool = False
    injected: int = 0
    code: str | None = None  # kind "error" only
    status: int = 400  # kind "error" only
    error_type: str = "Sender"  # kind "error" only
    message: str = "injected by test proxy"  # kind "error" only
    response: tuple[int, list[tuple[str, str]], bytes] | None = None  # kind "respond" only

    KINDS = ("throttle", "error500", "error503", "drop", "drop_response", "delay", "error", "respond")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}, expected one of {self.KINDS}")
        if self.kind == "error" and not self.code:
            raise ValueError('a fault of kind "error" needs its AWS error code: Fault("error", code=...)')
        if self.kind == "respond" and self.response is None:
            raise ValueError('a fault of kind "respond" needs its response=(status, headers, body)')

    def matches(self, call: Call) -> bool:
        if self.times is not None and self.injected >= self.times:
            return False
        if self.service is not None and call.service != self.service:
            return False
        if self.only_writes and not call.is_write:
            return False
        if self.action is None:
            return True
        if isinstance(self.action, str):
            return call.action == self.action
        return self.action.search(call.action) is not None


def _wrapped_error(error_type: str, code: str, msg: str) -> bytes:
    """An error body as Route53 (REST-XML with wrapped errors) gives it."""
    return (f"<ErrorResponse><Error><Type>{error_type}</Type><Code>{code}</Code><Message>{msg}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>").encode()


def error_response(call: Call, kind: str, fault: Fault | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plausible AWS error answer for `call`, in its protocol's format (for kind
    "error", the code and status of `fault`)."""
    if kind == "error":
        assert fault is not None and fault.code
        code, status = fault.code, fault.status
        msg = fault.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if call.protocol == "rest" and call.service == "route53":  # REST-XML, errors wrapped
            return status, {"Content-Type": "text/xml"}, _wrapped_error(fault.error_type, code, msg)
        if call.protocol == "rest":
            body = f"<Error><Code>{code}</Code><Message>{msg}</Message></Error>"
            return status, {"Content-Type": "application/xml"}, body.encode()
        if call.protocol in ("json", "cbor"):
            body = json.dumps({"__type": code, "message": fault.message})
            return status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}, body.encode()
        if call.service == "ec2":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{msg}</Message>"
                "</Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
            )
            return status, {"Content-Type": "text/xml"}, body.encode()
        body = (
            f"<ErrorResponse><Error><Type>{fault.error_type}</Type><Code>{code}</Code>"
            f"<Message>{msg}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml"}, body.encode()
    throttle = kind == "throttle"
    if call.protocol == "rest" and call.service == "route53":
        status, code = (400, "Throttling") if throttle else (int(kind[-3:]), "InternalError")
        return status, {"Content-Type": "text/xml"}, _wrapped_error("Sender" if throttle else "Receiver", code,
                                                                    "injected by test proxy")
    if call.protocol == "rest":  # S3
        status, code = (503, "SlowDown") if throttle else (int(kind[-3:]), "InternalError")
        if kind == "error503":
            code = "ServiceUnavailable"
        body = f"<Error><Code>{code}</Code><Message>injected by test proxy</Message></Error>"
        return status, {"Content-Type": "application/xml"}, body.encode()
    if call.protocol in ("json", "cbor"):  # (a CBOR client gets a JSON body: good enough)
        code = "ThrottlingException" if throttle else (
            "InternalServerError" if kind == "error500" else "ServiceUnavailable")
        status = 400 if throttle else int(kind[-3:])
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected by test proxy"})
        return status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}, body.encode()
    if call.service == "ec2":
        status, code = (503, "RequestLimitExceeded") if throttle else (int(kind[-3:]), "InternalError")
        if kind == "error503":
            code = "Unavailable"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            f"<Code>{code}</Code><Message>injected by test proxy</Message>"
            "</Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
        )
        return status, {"Content-Type": "text/xml"}, body.encode()
    status, code, typ = (400, "Throttling", "Sender") if throttle else (int(kind[-3:]), "InternalFailure", "Receiver")
    if kind == "error503":
        code = "ServiceUnavailable"
    body = (
        f"<ErrorResponse><Error><Type>{typ}</Type><Code>{code}</Code><Message>injected by test proxy</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body.encode()


class RecordingProxy:
    """HTTP proxy on 127.0.0.1 in front of the emulator. Records every call (service,
    action) and can inject faults (see `Fault`). Each request uses its own upstream
    connection and the client connection is closed after the answer (as moto does)."""

    def __init__(self, upstream: str, seed: int = 0) -> None:
        u = urllib.parse.urlsplit(upstream)
        self.upstream_host = u.hostname or "127.0.0.1"
        self.upstream_port = u.port or 80
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        # Bumped by clear_faults() (and so by Emulator.reset()): a delayed call still
        # waiting then belongs to a test that is over and is never forwarded.
        self._epoch = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Called with each call that reached the emulator (it took effect there) and
        # the emulator's answer (status, headers, body), after the call is recorded
        # and before the answer goes back to the client (if it does).
        self.on_forwarded: Callable[[Call, tuple[int, list[tuple[str, str]], bytes]], None] | None = None
        # AWS's rules that moto does not keep (see strict_aws.py); None: moto as it is.
        self.strict: StrictLayer | None = None

    # lifecycle
    def start(self) -> "RecordingProxy":
        handler = type("Handler", (_ProxyHandler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # records
    def calls(self, service: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if service is None or c.service == service]

    def writes(self, service: str | None = None) -> list[Call]:
        return [c for c in self.calls(service) if c.is_write]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    # faults
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._epoch += 1

    def set_strict(self, config: Strict) -> Strict:
        """Keeps AWS's rules of `config` from now on (forgetting what the layer saw);
        returns the previous configuration."""
        assert self.strict is not None, "the strict layer needs the emulator's direct URL"
        old = self.strict.config
        self.strict.config = config
        self.strict.reset()
        return old

    def seed(self, seed: int) -> None:
        """Restarts the random draws of `rate` faults from `seed` (same calls, same faults)."""
        with self._lock:
            self._random.seed(seed)

    def _choose_fault(self, call: Call) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(call) and self._random.random() < f.rate:
                    f.injected += 1
                    return f
        return None

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _forwarded(self, call: Call, answer: tuple[int, list[tuple[str, str]], bytes]) -> None:
        hook = self.on_forwarded
        if hook is not None:
            hook(call, answer)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: RecordingProxy  # set on the subclass made in RecordingProxy.start

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding", "") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        self.close_connection = True
        body = self._read_body()
        call = classify(self.command, self.path, self.headers, body)
        fault = self.proxy._choose_fault(call)
        kind = fault.kind if fault else None
        if kind == "drop":
            self.proxy._record(replace(call, fault=kind))
            return
        if kind in ("throttle", "error500", "error503", "error"):
            status, headers, data = error_response(call, kind, fault)
            self.proxy._record(replace(call, status=status, fault=kind))
            self._send(status, list(headers.items()), data)
            return
        if kind == "respond" and fault is not None and fault.response is not None:
            status, resp_headers, data = fault.response
            self.proxy._record(replace(call, status=status, fault=kind))
            self._send(status, list(resp_headers), data)
            return
        if kind == "delay" and fault is not None:
            epoch = self.proxy._epoch
            time.sleep(fault.delay)
            if self.proxy._epoch != epoch:
                # The faults were cleared while this call waited (the client that made
                # it gave up, its test moved on): dropped, as a lost request would be,
                # so that it cannot land in the emulator during a later test.
                return
        strict = self.proxy.strict if kind in (None, "delay", "drop_response") else None
        params, before = None, None
        if strict is not None and strict.config.any:
            params = Params.parse(call, self.path, body, self.headers)
            try:
                refusal = strict.refuse(call, params)
                before = strict.prepare(call, params) if refusal is None else None
            except Exception as e:  # noqa: BLE001 - a fault of the layer, never of the call
                strict.errors.append(f"{call.service} {call.action}: {e!r}")
                refusal, strict = None, None
            if refusal is not None:
                status, headers, data = error_response(call, "error", Fault(
                    "error", code=refusal.code, status=refusal.status, message=refusal.message))
                self.proxy._record(replace(call, status=status, fault=f"strict:{refusal.rule}"))
                self._send(status, list(headers.items()), data)
                return
        try:
            status, headers, data = self._forward(body)
        except OSError as e:
            self.proxy._record(replace(call, status=502, fault="upstream"))
            self._send(502, [("Content-Type", "text/plain")], f"proxy: upstream failed: {e}".encode())
            return
        if strict is not None and params is not None:
            try:
                status, headers, data = strict.observe(call, params, before, (status, headers, data))
            except Exception as e:  # noqa: BLE001
                strict.errors.append(f"{call.service} {call.action}: {e!r}")
        if kind == "drop_response":
            self.proxy._record(replace(call, status=0, fault=kind))
            self.proxy._forwarded(replace(call, status=0, fault=kind), (status, headers, data))
            return
        self.proxy._record(replace(call, status=status, fault=kind))
        self.proxy._forwarded(replace(call, status=status, fault=kind), (status, headers, data))
        self._send(status, headers, data)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.proxy.upstream_host, self.proxy.upstream_port, timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            if self.command != "HEAD":
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(data))))
            return resp.status, headers, data
        finally:
            conn.close()

    def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        try:
            self.send_response_only(status)
            for k, v in headers:
                self.send_header(k, v)
            if not any(k.lower() == "content-length" for k, _ in headers):
                self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (e.g. a provider being interrupted)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


# --------------------------------------------------------------------------------------
# Emulator (moto server) + proxy
# --------------------------------------------------------------------------------------


class Emulator:
    """moto's server on a free 127.0.0.1 port, with a RecordingProxy in front of it.
    `url` is the proxy (give it to the provider); `direct_url` is moto itself (for the
    tests' own boto3 checks, which must not show up in the recorded calls)."""

    def __init__(self, log_path: Path, venv: Path = VENV, strict: Strict | None = None) -> None:
        self.log_path = log_path
        # AWS's rules the proxy keeps (DATOMIC_STRICT=0/1 overrides the default)
        self.strict = strict if strict is not None else Strict.from_env(default=True)
        self.server_bin = venv / "bin" / "moto_server"
        # the project's launcher patches moto's known bugs (same arguments as moto_server)
        launcher = REPO_ROOT / "scripts" / "emulator-server.py"
        self.command = [str(venv / "bin" / "python"), str(launcher)] if launcher.is_file() else [str(self.server_bin)]
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.proxy: RecordingProxy | None = None

    def start(self, timeout: float = 20.0) -> "Emulator":
        if not self.server_bin.exists():
            raise RuntimeError(f"{self.server_bin} not found: run scripts/setup-venv first")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
        env["MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION"] = "true"
        for attempt in range(3):  # a free port can be taken between choosing and binding
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [*self.command, "-H", "127.0.0.1", "-p", str(self.port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True,
                )
            if wait_until(lambda: self.proc.poll() is not None or http_ok(f"{self.direct_url}/moto-api/"), timeout):
                if self.proc.poll() is None:
                    self.proxy = RecordingProxy(self.direct_url).start()
                    self.proxy.strict = StrictLayer(self.strict, self.direct_url)
                    return self
            stop_process_group(self.proc)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"moto_server did not start; log {self.log_path}:\n{tail}")

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        assert self.proxy is not None, "emulator not started"
        return self.proxy.url

    def reset(self) -> None:
        """Empties the emulator (only the default VPC remains), forgets recorded calls
        and injected faults."""
        req = urllib.request.Request(f"{self.direct_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
        if self.proxy is not None:
            self.proxy.clear()
            self.proxy.clear_faults()
            self.proxy.on_forwarded = None
            if self.proxy.strict is not None:
                self.proxy.strict.reset()

    def boto3(self, service: str, via_proxy: bool = False) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url if via_proxy else self.direct_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}),
        )

    def push_revision(self, application: str, revision: str, body: bytes | None = None) -> str:
        """What `clojure -A:ion-dev '{:op :push}'` does for a revision: the zip goes to the
        region's code bucket (made, tagged `datomic:code`, when missing) under
        `datomic/apps/<application>/<revision>.zip`. Directly to the emulator, not through
        the proxy (it is not the provider's call). Returns the key. A revision containing
        `emulator-fail` makes its deployment fail (scripts/emulator_codedeploy.py)."""
        s3 = self.boto3("s3")
        bucket = code_bucket()
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - missing: ion push's bucket is made by Datomic's storage
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "datomic:code", "Value": "true"}]})
        key = f"datomic/apps/{application}/{revision}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=body if body is not None else revision_zip(revision))
        return key

    def push_revisions_in(self, hcl: str) -> list[str]:
        """Pushes every revision a configuration's `datomic_application` blocks name as
        literals (`name = "..."` and `revision = "..."`; a name given as
        `datomic_system.x.application_name` or similar is taken to be the literal
        `application_name` / `name` of the system or query group block it points at).
        For tests whose configurations deploy many revisions."""
        keys = []
        for app, rev in application_revisions(hcl):
            keys.append(self.push_revision(app, rev))
        return keys

    def s3_backend_config(self, bucket: str, key: str) -> dict[str, Any]:
        """Settings of Terraform's S3 backend (Terraform >= 1.10) storing state in this
        emulator's `bucket` under `key`, for `Terraform.init(backend_config=...)`. The
        backend talks to the emulator directly, not through the recording proxy: state
        reads, writes and lock files are not among the provider's calls. Credentials come
        from the harness's AWS_* environment variables."""
        return {
            "bucket": bucket,
            "key": key,
            "region": REGION,
            "endpoints": {"s3": self.direct_url},
            "use_path_style": True,
            "use_lockfile": True,
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
        }

    # shortcuts to the proxy's records
    def calls(self, service: str | None = None) -> list[Call]:
        assert self.proxy is not None
        return self.proxy.calls(service)

    def writes(self, service: str | None = None) -> list[Call]:
        assert self.proxy is not None
        return self.proxy.writes(service)


# --------------------------------------------------------------------------------------
# Terraform
# --------------------------------------------------------------------------------------


def hosted_zones(route53: Any, system: str) -> list[dict]:
    """The hosted zones named as `system`'s private zone (`<system>.<REGION>.datomic.net`),
    whoever made them."""
    name = f"{system}.{REGION}.datomic.net."
    return [z for z in route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"] if z["Name"] == name]


def lb_name(system: str, group: str) -> str:
    """The load balancer (and target group) name of a compute group, as the provider's
    rules::load_balancer_name derives it: `<system>-<group>` cut to 23 characters, then
    an FNV-1a hash of `<system>--<group>` (a Rust unit test pins the same value)."""
    h = 0x811C9DC5
    for b in f"{system}--{group}".encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    readable = f"{system}-{group}"
    if readable.startswith("internal-"):
        readable = "dtm-" + readable
    return f"{readable[:23].rstrip('-')}-{h:08x}"


EMULATOR_ACCOUNT = "123456789012"


def code_bucket(account: str = EMULATOR_ACCOUNT, region: str = REGION) -> str:
    """The region's ion code bucket, as the provider's rules::code_bucket_name names it."""
    return f"datomic-code-{account}-{region}"


def revision_zip(revision: str) -> bytes:
    """A small ion revision bundle: a zip with an appspec.yml, as ion push uploads."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        z.writestr("REVISION", revision)
    return buf.getvalue()


def application_revisions(hcl: str) -> list[tuple[str, str]]:
    """(application name, revision) of every `resource "datomic_application"` block of a
    configuration whose revision is a literal; the name is a literal, or a reference to a
    `datomic_system` / `datomic_query_group` block's `application_name` (its literal, else
    the block's `name`)."""
    blocks: dict[tuple[str, str], str] = {}
    for m in re.finditer(r'resource\s+"(datomic_\w+)"\s+"([\w-]+)"\s*\{', hcl):
        depth, i = 1, m.end()
        while i < len(hcl) and depth:
            depth += {"{": 1, "}": -1}.get(hcl[i], 0)
            i += 1
        blocks[(m.group(1), m.group(2))] = hcl[m.end():i]

    def literal(body: str, attr: str) -> str | None:
        found = re.search(rf'^\s*{attr}\s*=\s*"([^"$]*)"', body, re.M)
        return found.group(1) if found else None

    out = []
    for (rtype, _), body in blocks.items():
        if rtype != "datomic_application":
            continue
        rev = literal(body, "revision")
        name = literal(body, "name")
        if name is None:
            ref = re.search(r'^\s*name\s*=\s*(datomic_\w+)\.([\w-]+)\.(\w+)', body, re.M)
            if ref and (ref.group(1), ref.group(2)) in blocks:
                target = blocks[(ref.group(1), ref.group(2))]
                name = literal(target, "application_name") or literal(target, "name")
        if name and rev:
            out.append((name, rev))
    return out


def provider_hcl(endpoint_var: str = "var.aws_endpoint") -> str:
    """The terraform + provider blocks every test config starts with: the provider
    pointed at the emulator (through the proxy) for every service it uses."""
    services = ("ec2", "iam", "autoscaling", "s3", "dynamodb", "sts", "elbv2", "ssm", "route53", "codedeploy", "kms", "logs", "efs")
    endpoints = "\n".join(f"    {s} = {endpoint_var}" for s in services)
    return f"""terraform {{
  required_providers {{
    datomic = {{ source = "{PROVIDER_SOURCE}" }}
  }}
}}

variable "aws_endpoint" {{
  type = string
}}

provider "datomic" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  endpoints {{
{endpoints}
  }}
}}
"""


def hcl_value(v: Any) -> str:
    """A Python value as an HCL expression: strings, numbers, booleans, lists, maps."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v).replace("${", "$${").replace("%{", "%%{")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(hcl_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {hcl_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no HCL for {v!r}")


def hcl_attributes(settings: dict[str, Any]) -> str:
    """`name = value` lines, e.g. a .tfbackend file."""
    return "".join(f"{k} = {hcl_value(v)}\n" for k, v in settings.items())


class Result(NamedTuple):
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def diagnostics(self, include_dev_overrides: bool = False) -> list["Diagnostic"]:
        """Diagnostics of a `-json` run (machine-readable UI lines on stdout)."""
        return diagnostics_from_ui(self.stdout, include_dev_overrides)

    def describe(self) -> str:
        return f"exit code {self.rc}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


class TerraformError(AssertionError):
    pass


@dataclass
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None  # resource address, when Terraform gives one
    filename: str | None = None
    line: int | None = None  # where the range starts (1-based)
    column: int | None = None
    end_line: int | None = None
    snippet: str | None = None  # the source line(s) Terraform quotes
    raw: dict = field(default_factory=dict, repr=False)

    DEV_OVERRIDES = "Provider development overrides are in effect"

    @classmethod
    def from_json(cls, d: dict) -> "Diagnostic":
        rng = d.get("range") or {}
        start, end = rng.get("start") or {}, rng.get("end") or {}
        return cls(
            severity=d.get("severity", ""),
            summary=d.get("summary", ""),
            detail=d.get("detail", ""),
            address=d.get("address"),
            filename=rng.get("filename"),
            line=start.get("line"),
            column=start.get("column"),
            end_line=end.get("line"),
            snippet=(d.get("snippet") or {}).get("code"),
            raw=d,
        )

    @property
    def text(self) -> str:
        return f"{self.summary}\n{self.detail}"

    def __str__(self) -> str:
        where = f" at {self.filename}:{self.line}" if self.filename else ""
        return f"[{self.severity}] {self.summary}{where}: {self.detail}"


def parse_ui_json(text: str) -> list[dict]:
    """The JSON objects of Terraform's machine-readable UI (`plan/apply -json`), one a line."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def diagnostics_from_ui(text: str, include_dev_overrides: bool = False) -> list[Diagnostic]:
    diags = [Diagnostic.from_json(m["diagnostic"]) for m in parse_ui_json(text)
             if m.get("type") == "diagnostic" and "diagnostic" in m]
    return [d for d in diags if include_dev_overrides or d.summary != Diagnostic.DEV_OVERRIDES]


def diagnostics_from_doc(doc: dict, include_dev_overrides: bool = False) -> list[Diagnostic]:
    """Diagnostics of a JSON document such as `terraform validate -json`'s."""
    diags = [Diagnostic.from_json(d) for d in doc.get("diagnostics", [])]
    return [d for d in diags if include_dev_overrides or d.summary != Diagnostic.DEV_OVERRIDES]


class Terraform:
    """Runs the real terraform CLI in `workdir` with the locally built provider.

    mode "dev_overrides" (default): a CLI config with dev_overrides points
        datomic-community/datomic at the binary's directory; no `terraform init` needed
        (init() only installs modules, with `terraform get`).
    mode "mirror": the binary is packed into a filesystem mirror (see `pack_mirror`) and
        `terraform init` installs it like a released provider (needed for backends).
    """

    def __init__(
        self,
        workdir: Path,
        binary: Path,
        endpoint: str | None,
        *,
        mode: str = "dev_overrides",
        mirror_dir: Path | None = None,
        timeout: float = 600,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.binary = binary
        self.mode = mode
        self.timeout = timeout
        workdir.mkdir(parents=True, exist_ok=True)
        self.cli_config = workdir / "terraform.tfrc"  # not a .tf file: terraform ignores it
        if mode == "dev_overrides":
            install = (
                "provider_installation {\n"
                "  dev_overrides {\n"
                f'    "{PROVIDER_SOURCE}" = "{binary.parent}"\n'
                "  }\n"
                "  direct {}\n"
                "}\n"
            )
        elif mode == "mirror":
            if mirror_dir is None:
                raise ValueError("mode 'mirror' needs mirror_dir (see pack_mirror)")
            install = (
                "provider_installation {\n"
                "  filesystem_mirror {\n"
                f'    path    = "{mirror_dir}"\n'
                f'    include = ["{PROVIDER_SOURCE}"]\n'
                "  }\n"
                f'  direct {{ exclude = ["{PROVIDER_SOURCE}"] }}\n'
                "}\n"
            )
        else:
            raise ValueError(f"unknown mode {mode!r}")
        self.cli_config.write_text(install)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
        env.update(FAKE_CREDS)
        env.update({
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        })
        if endpoint is not None:
            env["TF_VAR_aws_endpoint"] = endpoint
        if os.environ.get("ACCEPTANCE_TF_LOG"):  # e.g. ACCEPTANCE_TF_LOG=trace for debugging
            env["TF_LOG"] = os.environ["ACCEPTANCE_TF_LOG"]
            env["TF_LOG_PATH"] = str(workdir / "terraform.log")
        env.update(extra_env or {})
        self.env = env

    # files
    def write(self, main_tf: str, files: dict[str, str] | None = None, **named: str) -> None:
        """Writes main.tf, plus `files` (relative paths) and keyword files whose last
        underscore stands for the dot: write(main, variables_tf="...") -> variables.tf."""
        (self.workdir / "main.tf").write_text(main_tf)
        all_files = dict(files or {})
        for key, text in named.items():
            stem, _, ext = key.rpartition("_")
            all_files[f"{stem}.{ext}" if stem else key] = text
        for rel, text in all_files.items():
            p = self.workdir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)

    # running
    def popen(self, *args: str, **kw: Any) -> subprocess.Popen:
        """Starts terraform in its own session (pgid = sid = its pid): the caller owns it."""
        return subprocess.Popen(
            ["terraform", *args], cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw,
        )

    def run(self, *args: str, timeout: float | None = None, check: bool = False) -> Result:
        proc = self.popen(*args)
        try:
            out, err = proc.communicate(timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(proc, grace=10, first=signal.SIGINT)
            out, err = proc.communicate()
            raise TerraformError(
                f"terraform {' '.join(args)} timed out after {timeout or self.timeout}s\n"
                + Result(-1, out, err).describe())
        res = Result(proc.returncode, out, err)
        if check and not res.ok:
            raise TerraformError(f"terraform {' '.join(args)} failed: {res.describe()}")
        return res

    def init(self, *args: str, backend_config: dict[str, Any] | None = None, check: bool = True) -> Result:
        """`terraform init` (mode "mirror"), or `terraform get` (mode "dev_overrides").
        `backend_config`: settings of a partial backend configuration (`backend "s3" {}`),
        written as HCL to backend.tfbackend and given as `-backend-config=backend.tfbackend`
        (mode "mirror" only: dev_overrides cannot `terraform init`)."""
        if self.mode == "dev_overrides":
            if backend_config is not None:
                raise ValueError("a backend needs `terraform init`: use mode='mirror' (see pack_mirror)")
            # `terraform init` would look the overridden provider up in the registry
            # (and fail offline); `get` installs modules only, which is all we need.
            return self.run("get", "-no-color", check=check)
        if backend_config is not None:
            (self.workdir / "backend.tfbackend").write_text(hcl_attributes(backend_config))
            args = ("-backend-config=backend.tfbackend", *args)
        return self.run("init", "-input=false", "-no-color", *args, check=check)

    def validate_json(self) -> dict:
        res = self.run("validate", "-json", "-no-color")
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError:
            raise TerraformError(f"validate -json printed no JSON: {res.describe()}") from None

    def plan(self, *args: str) -> Result:
        return self.run("plan", "-input=false", "-no-color", *args)

    def plan_json(self, *args: str) -> dict:
        self.run("plan", "-input=false", "-no-color", "-out=tfplan", *args, check=True)
        return json.loads(self.run("show", "-json", "tfplan", check=True).stdout)

    def apply(self, *args: str, check: bool = True) -> Result:
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *args, check=check)

    def destroy(self, *args: str, check: bool = True) -> Result:
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", *args, check=check)

    def show_json(self) -> dict:
        return json.loads(self.run("show", "-json", check=True).stdout)

    def state_show(self, addr: str) -> str:
        return self.run("state", "show", "-no-color", addr, check=True).stdout

    def state_list(self) -> list[str]:
        """The addresses in the state; [] when no state was ever written (e.g. every
        apply so far was refused at plan)."""
        res = self.run("state", "list")
        if res.rc != 0 and "No state file was found" in res.stderr:
            return []
        if res.rc != 0:
            raise TerraformError(f"terraform state list failed: {res.describe()}")
        return res.stdout.split()

    def import_(self, addr: str, id_: str, check: bool = True) -> Result:
        return self.run("import", "-input=false", "-no-color", addr, id_, check=check)

    def output_json(self) -> dict:
        """`terraform output -json`: {name: {"value": ..., "type": ..., "sensitive": ...}}."""
        return json.loads(self.run("output", "-json", check=True).stdout)

    def outputs(self) -> dict:
        return {k: v["value"] for k, v in self.output_json().items()}

    def providers_schema(self) -> dict:
        return json.loads(self.run("providers", "schema", "-json", "-no-color", check=True).stdout)


def crate_version() -> str:
    """The provider's version, from Cargo.toml."""
    import tomllib

    with open(REPO_ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["version"]


def pack_mirror(binary: Path, mirror_dir: Path, version: str) -> Path:
    """Packs `binary` into a Terraform filesystem mirror (packed layout):
    mirror_dir/registry.terraform.io/datomic-community/datomic/terraform-provider-datomic_V_OS_ARCH.zip"""
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    dest = mirror_dir / PROVIDER_ADDR
    dest.mkdir(parents=True, exist_ok=True)
    zpath = dest / f"{BINARY_NAME}_{version}_linux_{arch}.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo(f"{BINARY_NAME}_v{version}")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    return zpath


def walk_schema_attributes(block: dict, path: str = "") -> Iterable[tuple[str, dict]]:
    """Every attribute of a `providers schema -json` block, recursively through nested
    blocks and nested attribute types, as (dotted path, attribute)."""
    for name, attr in (block.get("attributes") or {}).items():
        p = f"{path}.{name}" if path else name
        yield p, attr
        nested = attr.get("nested_type")
        if nested:
            yield from walk_schema_attributes(nested, p)
    for name, bt in (block.get("block_types") or {}).items():
        p = f"{path}.{name}" if path else name
        yield from walk_schema_attributes(bt.get("block") or {}, p)


def which(cmd: str) -> str | None:
    return shutil.which(cmd)
