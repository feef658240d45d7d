"""Drives the provider binary the way Terraform (go-plugin) does: environment, handshake
line, AutoMTLS client certificates, gRPC calls. Used by the protocol-level tests."""

from __future__ import annotations

import base64
import datetime
import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
GRPC_MAX_MESSAGE = 256 << 20


@dataclass
class Handshake:
    core_version: str
    protocol_version: str
    network: str
    address: str
    protocol: str
    server_cert_der: bytes | None

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def server_cert_pem(self) -> bytes:
        assert self.server_cert_der is not None, "no server certificate in the handshake"
        return der_to_pem(self.server_cert_der)


def parse_handshake(line: str) -> Handshake:
    """`CORE|PROTO|NETWORK|ADDR|PROTOCOL[|CERT]`, CERT = DER in unpadded standard base64."""
    parts = line.strip().split("|")
    if len(parts) not in (5, 6):
        raise ValueError(f"handshake line has {len(parts)} fields, expected 5 or 6: {line!r}")
    cert = None
    if len(parts) == 6 and parts[5]:
        b64 = parts[5]
        cert = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
    return Handshake(*parts[:5], server_cert_der=cert)


def der_to_pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()


def make_client_cert() -> tuple[bytes, bytes]:
    """A certificate like go-plugin's AutoMTLS client one (mtls.go): ECDSA P-521,
    self-signed, CN/DNS localhost, CA, digital signature + key encipherment + cert sign,
    client and server auth. Returns (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA512())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert_pem, key_pem


class PluginProcess:
    """The provider binary started as Terraform starts it. Always use as a context
    manager (or call stop()): the process is killed on exit."""

    def __init__(self, binary: Path, client_cert_pem: bytes | None = None,
                 protocol_versions: str = "6", extra_env: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
        env.update({
            MAGIC_COOKIE_KEY: MAGIC_COOKIE,
            "PLUGIN_PROTOCOL_VERSIONS": protocol_versions,
            "PLUGIN_MIN_PORT": "10000",
            "PLUGIN_MAX_PORT": "25000",
        })
        if client_cert_pem is not None:
            env["PLUGIN_CLIENT_CERT"] = client_cert_pem.decode()
        env.update(extra_env or {})
        self.proc = subprocess.Popen(
            [str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_chunks: list[bytes] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self.stderr_chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self.stderr_chunks).decode(errors="replace")

    def handshake_line(self, timeout: float = 10.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no handshake line within {timeout}s; stderr:\n{self.stderr}") from None
        if line is None:
            self.proc.wait(timeout=5)
            raise AssertionError(
                f"provider exited ({self.proc.returncode}) before its handshake; stderr:\n{self.stderr}")
        return line.decode().rstrip("\r\n")

    def handshake(self, timeout: float = 10.0) -> Handshake:
        return parse_handshake(self.handshake_line(timeout))

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> "PluginProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def grpc_channel(hs: Handshake, cert_pem: bytes | None = None, key_pem: bytes | None = None) -> Any:
    """A gRPC channel to the provider: TLS pinned to the handshake's server certificate
    (with the given client certificate), or plaintext when the handshake had none."""
    import grpc

    options = [
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE),
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
        ("grpc.enable_retries", 0),
    ]
    if hs.server_cert_der is None:
        return grpc.insecure_channel(hs.address, options=options)
    creds = grpc.ssl_channel_credentials(
        root_certificates=hs.server_cert_pem, private_key=key_pem, certificate_chain=cert_pem)
    options.append(("grpc.ssl_target_name_override", "localhost"))
    return grpc.secure_channel(hs.address, creds, options=options)


def unary_raw(channel: Any, method: str, request: bytes = b"", timeout: float = 5.0) -> bytes:
    """Calls a unary gRPC method with a raw (already encoded) protobuf request."""
    call = channel.unary_unary(method, request_serializer=lambda x: x, response_deserializer=lambda x: x)
    return call(request, timeout=timeout)
