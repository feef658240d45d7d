"""The plugin protocol layer, end to end: the binary run by hand, the go-plugin handshake
(plain and AutoMTLS with a pinned client certificate), fast shutdown, schema and
validation through the real terraform CLI, and Ctrl-C during an apply."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from harness import (
    PROVIDER_ADDR, Emulator, Fault, Terraform, diagnostics_from_doc, processes_of, provider_hcl,
    stop_process_group, wait_until, walk_schema_attributes,
)
from plugin_process import PluginProcess, grpc_channel, make_client_cert, parse_handshake, unary_raw

GET_METADATA = "/tfplugin6.Provider/GetMetadata"
SHUTDOWN = "/plugin.GRPCController/Shutdown"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS, no flags, stream 0
RESOURCES = ("datomic_system", "datomic_query_group", "datomic_application")


def test_binary_by_hand(provider_binary: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    res = subprocess.run([str(provider_binary)], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=10)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert re.search(r"terraform", out, re.I) and re.search(r"plugin", out, re.I), out


def test_schema(tf_offline: Terraform) -> None:
    tf_offline.write(provider_hcl())
    schemas = tf_offline.providers_schema()["provider_schemas"]
    assert PROVIDER_ADDR in schemas, list(schemas)
    ours = schemas[PROVIDER_ADDR]
    resources = ours.get("resource_schemas") or {}
    for name in RESOURCES:
        assert name in resources, f"{name} missing from {sorted(resources)}"

    blocks = {"provider": ours["provider"]["block"]}
    blocks.update({f"resource {n}": s["block"] for n, s in resources.items()})
    blocks.update({f"data source {n}": s["block"] for n, s in (ours.get("data_source_schemas") or {}).items()})
    undocumented = [f"{where}: {path}" for where, block in blocks.items()
                    for path, attr in walk_schema_attributes(block)
                    if not (attr.get("description") or "").strip()]
    assert not undocumented, "attributes without a description:\n" + "\n".join(undocumented)


def test_handshake_plain(provider_binary: Path) -> None:
    with PluginProcess(provider_binary) as plugin:
        line = plugin.handshake_line()
        m = re.fullmatch(r"1\|6\|tcp\|127\.0\.0\.1:(\d+)\|grpc\|?", line)
        assert m, f"unexpected handshake line {line!r}"
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=5):
            pass
        assert plugin.proc.poll() is None, plugin.stderr


def _write_pair(tmp_path: Path, tag: str, pair: tuple[bytes, bytes]) -> tuple[str, str]:
    cert, key = tmp_path / f"{tag}.crt", tmp_path / f"{tag}.key"
    cert.write_bytes(pair[0])
    key.write_bytes(pair[1])
    return str(cert), str(key)


def _tls_exchange(address: tuple[str, int], server_der: bytes, certfile: str, keyfile: str) -> bytes:
    """TLS to the provider, pinned to its handshake certificate, presenting a client
    certificate; sends the HTTP/2 preface and returns the first bytes the server sends
    (b"" when it closes). TLS errors propagate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # pinned below: the exact DER of the handshake line
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(address, timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.getpeercert(binary_form=True) == server_der, "server certificate is not the pinned one"
            tls.sendall(H2_PREFACE + H2_EMPTY_SETTINGS)
            return tls.recv(9)


def test_mtls_pinned(provider_binary: Path, tmp_path: Path) -> None:
    cert_a, cert_b = make_client_cert(), make_client_cert()
    files_a, files_b = _write_pair(tmp_path, "a", cert_a), _write_pair(tmp_path, "b", cert_b)
    with PluginProcess(provider_binary, client_cert_pem=cert_a[0]) as plugin:
        line = plugin.handshake_line()
        assert re.fullmatch(r"1\|6\|tcp\|127\.0\.0\.1:\d+\|grpc\|[A-Za-z0-9+/]+", line), line
        hs = parse_handshake(line)
        address = (hs.host, hs.port)
        from cryptography import x509

        server_cert = x509.load_der_x509_certificate(hs.server_cert_der)
        sans = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in sans.get_values_for_type(x509.DNSName)

        # An unknown client certificate is refused: at the handshake or at the first read.
        try:
            first = _tls_exchange(address, hs.server_cert_der, *files_b)
        except (ssl.SSLError, ConnectionError, socket.timeout):
            first = b""
        assert first == b"", f"server answered a client with the wrong certificate: {first!r}"

        # The expected one gets HTTP/2: a SETTINGS frame (type 4) comes back.
        first = _tls_exchange(address, hs.server_cert_der, *files_a)
        assert len(first) == 9 and first[3] == 4, f"expected an HTTP/2 SETTINGS frame, got {first!r}"

        with grpc_channel(hs, cert_a[0], cert_a[1]) as channel:
            assert len(unary_raw(channel, GET_METADATA)) > 0
        with grpc_channel(hs, cert_b[0], cert_b[1]) as channel:
            with pytest.raises(grpc.RpcError) as e:
                unary_raw(channel, GET_METADATA)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        assert plugin.proc.poll() is None, plugin.stderr


def test_silent_client_dropped(provider_binary: Path) -> None:
    """A client that connects and never starts the TLS handshake is hung up on after the
    handshake timeout (10 s), while Terraform's own connections keep working."""
    cert, key = make_client_cert()
    with PluginProcess(provider_binary, client_cert_pem=cert) as plugin:
        hs = plugin.handshake()
        with socket.create_connection((hs.host, hs.port), timeout=30) as silent:
            start = time.monotonic()
            try:
                first = silent.recv(1)
            except ConnectionResetError:
                first = b""
            waited = time.monotonic() - start
        assert first == b"", f"server sent {first!r} to a silent client"
        assert 5 < waited < 20, f"silent client dropped after {waited:.1f} s, expected about 10 s"
        with grpc_channel(hs, cert, key) as channel:
            assert len(unary_raw(channel, GET_METADATA)) > 0
        assert plugin.proc.poll() is None, plugin.stderr


def test_shutdown_fast(provider_binary: Path) -> None:
    cert, key = make_client_cert()
    with PluginProcess(provider_binary, client_cert_pem=cert) as plugin:
        hs = plugin.handshake()
        with grpc_channel(hs, cert, key) as channel:
            unary_raw(channel, GET_METADATA)  # serving
            start = time.monotonic()
            try:
                unary_raw(channel, SHUTDOWN, timeout=2)
            except grpc.RpcError as e:  # exiting before the answer arrives is fine too
                assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), e
            try:
                plugin.proc.wait(timeout=max(0.05, 1.0 - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                pytest.fail("provider still running 1 s after GRPCController.Shutdown")
        assert plugin.proc.returncode == 0, plugin.stderr


def test_ignores_sigint(provider_binary: Path) -> None:
    """Ctrl-C in a terminal signals Terraform and its providers alike; like go-plugin's
    servers, the provider ignores SIGINT and lets Terraform stop it over gRPC."""
    cert, key = make_client_cert()
    with PluginProcess(provider_binary, client_cert_pem=cert) as plugin:
        hs = plugin.handshake()
        os.kill(plugin.proc.pid, signal.SIGINT)
        time.sleep(0.5)
        assert plugin.proc.poll() is None, f"provider exited on SIGINT ({plugin.proc.returncode}):\n{plugin.stderr}"
        with grpc_channel(hs, cert, key) as channel:
            assert len(unary_raw(channel, GET_METADATA)) > 0


def test_installs_from_mirror(make_tf, provider_mirror: Path) -> None:
    """`terraform init` installs the provider like a released one (from a filesystem
    mirror): what configurations with a backend need, where dev_overrides cannot do."""
    tf = make_tf("mirror", mode="mirror", mirror_dir=provider_mirror)
    tf.write(provider_hcl() + '\nresource "datomic_system" "main" {\n  name     = "acme"\n  topology = "solo"\n}\n')
    res = tf.init()
    assert "Terraform has been successfully initialized" in res.stdout, res.describe()
    doc = tf.validate_json()
    assert doc["valid"] is True, doc
    assert (tf.workdir / ".terraform.lock.hcl").is_file()


def test_validate_diagnostics(tf_offline: Terraform) -> None:
    main = provider_hcl() + '\nresource "datomic_system" "main" {\n  name     = "acme"\n  topology = "tiny"\n}\n'
    tf_offline.write(main)
    topology_line = next(i for i, line in enumerate(main.splitlines(), 1) if "topology =" in line)
    doc = tf_offline.validate_json()
    assert doc["valid"] is False, doc
    errors = [d for d in diagnostics_from_doc(doc) if d.severity == "error"]
    assert errors, doc
    about = [d for d in errors if "solo" in d.text and "production" in d.text]
    assert about, "no error names the allowed topologies:\n" + "\n".join(map(str, errors))
    d = about[0]
    assert (d.filename, d.line) == ("main.tf", topology_line), str(d)
    assert "tiny" in d.text or "tiny" in (d.snippet or ""), str(d)


def _interrupted_apply(tf: Terraform, aws: Emulator, binary: Path) -> tuple[str, str, list[int]]:
    """Starts `terraform apply` creating a system and presses Ctrl-C (SIGINT to the whole
    process group, as a terminal does) 1 s after the create began; waits (<= 20 s) for
    terraform to exit. Returns (stdout, stderr, pids of provider processes still running);
    always kills what it started. Every AWS call is slowed down by 0.5 s so that the
    create is still running when Ctrl-C comes."""
    aws.proxy.inject(Fault("delay", delay=0.5))
    tf.write(provider_hcl() + '\nresource "datomic_system" "main" {\n  name     = "intr"\n  topology = "solo"\n}\n')
    proc = tf.popen("apply", "-auto-approve", "-input=false", "-no-color")
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda f=f, acc=acc: acc.extend(iter(f.readline, "")), daemon=True)
               for f, acc in ((proc.stdout, out), (proc.stderr, err))]
    for r in readers:
        r.start()
    try:
        # Terraform runs in its own session: its providers are the binary's processes in it.
        assert wait_until(lambda: proc.poll() is not None or processes_of(binary, proc.pid), 30), \
            "no provider process within 30 s"
        assert wait_until(lambda: proc.poll() is not None or "Creating..." in "".join(out), 60), \
            "the create did not start within 60 s:\n" + "".join(out + err)
        time.sleep(1)
        assert proc.poll() is None, "terraform finished before it could be interrupted:\n" + "".join(out + err)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("terraform still running 20 s after SIGINT:\n" + "".join(out + err))
        for r in readers:
            r.join(timeout=5)
        wait_until(lambda: not processes_of(binary, proc.pid), 3)
        return "".join(out), "".join(err), processes_of(binary, proc.pid)
    finally:
        stop_process_group(proc, grace=2)
        for pid in processes_of(binary, proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.aws
@pytest.mark.timeout(120)
def test_interrupt_leaves_no_process(tf: Terraform, aws: Emulator, provider_binary: Path) -> None:
    out, err, left = _interrupted_apply(tf, aws, provider_binary)
    assert not left, f"provider processes left after terraform exited: {left}\n{out}\n{err}"


@pytest.mark.aws
@pytest.mark.timeout(120)
def test_interrupt_is_graceful(tf: Terraform, aws: Emulator, provider_binary: Path) -> None:
    """Ctrl-C reaches the provider too (same process group): like go-plugin it must ignore
    SIGINT and let Terraform stop it (StopProvider), not die under Terraform's feet."""
    out, err, _ = _interrupted_apply(tf, aws, provider_binary)
    text = out + err
    assert "Interrupt received" in text, text
    assert "Creation complete" not in text, "inconclusive: the create finished before Ctrl-C:\n" + text
    for sign in ("Plugin did not respond", "plugin crashed", "panic:"):
        assert sign not in text, f"{sign!r} after Ctrl-C:\n{text}"
