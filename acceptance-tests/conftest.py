"""Fixtures of the acceptance tests: the provider binary, the local AWS emulator (with
its recording proxy), and Terraform working directories. See harness.py."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import BINARY_NAME, REPO_ROOT, Emulator, Terraform, crate_version, pack_mirror
from strict_aws import StrictLayer

# Sources whose change makes the debug binary stale.
_SOURCES = ("src", "proto", "build.rs", "Cargo.toml", "Cargo.lock")
# An endpoint nothing listens on: for tests that must not reach AWS at all.
DEAD_ENDPOINT = "http://127.0.0.1:9"


def pytest_report_header(config: pytest.Config) -> list[str]:
    tf = subprocess.run(["terraform", "version"], capture_output=True, text=True, timeout=30,
                        env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"})
    first = (tf.stdout.splitlines() or ["terraform: not found"])[0]
    return [f"{first}; provider binary: {os.environ.get('DATOMIC_PROVIDER_BINARY') or 'target/debug (cargo build if stale)'}"]


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in _SOURCES:
        p = REPO_ROOT / name
        paths = p.rglob("*") if p.is_dir() else [p]
        for f in paths:
            if f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


@pytest.fixture(scope="session")
def provider_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """target/debug/terraform-provider-datomic (or under $CARGO_TARGET_DIR), built with
    `cargo build` when missing or older than the sources (scripts/test builds it first).
    DATOMIC_PROVIDER_BINARY=/path overrides it (then it is never built); a binary named
    otherwise is linked (or copied) as terraform-provider-datomic into a directory of
    its own, the name Terraform's dev_overrides look for."""
    override = os.environ.get("DATOMIC_PROVIDER_BINARY")
    if override:
        path = Path(override).resolve()
        assert path.is_file(), f"DATOMIC_PROVIDER_BINARY={override} is not a file"
        if not path.name.startswith(BINARY_NAME):
            named = tmp_path_factory.mktemp("provider") / BINARY_NAME
            try:
                os.link(path, named)
            except OSError:
                shutil.copy2(path, named)
            path = named
        return path
    path = REPO_ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / BINARY_NAME
    if not path.is_file() or path.stat().st_mtime < _newest_source_mtime():
        print(f"\nbuilding {path} (missing or older than the sources) ...")
        res = subprocess.run(["cargo", "build", "--bin", BINARY_NAME], cwd=REPO_ROOT,
                             stdin=subprocess.DEVNULL, timeout=1800)
        if res.returncode != 0 or not path.is_file():
            pytest.fail(f"cargo build failed (exit code {res.returncode})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def provider_mirror(provider_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filesystem mirror holding the built provider as a release of the Cargo.toml
    version, for Terraform(mode="mirror", mirror_dir=...) where `terraform init` must work
    (backends)."""
    mirror = tmp_path_factory.mktemp("mirror")
    pack_mirror(provider_binary, mirror, crate_version())
    return mirror


_STRICT_LAYERS: list[StrictLayer] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the strict AWS layer refused over the session (by rule), or that it was off."""
    for layer in _STRICT_LAYERS:
        on = [f.name for f in dataclasses.fields(layer.config) if getattr(layer.config, f.name) is True]
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(layer.totals.items())) or "none"
        terminalreporter.write_line(
            f"strict AWS layer: {'on (' + ', '.join(on) + ')' if on else 'off'}; calls refused as AWS would: {refused}")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """moto's server on a free 127.0.0.1 port with the recording proxy in front of it,
    for the whole session. Tests that use AWS take `aws` (reset before each test)."""
    log = tmp_path_factory.mktemp("emulator") / "moto.log"
    em = Emulator(log).start()
    if em.proxy is not None and em.proxy.strict is not None:
        _STRICT_LAYERS.append(em.proxy.strict)
    try:
        yield em
    finally:
        em.stop()


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator, emptied, with no recorded calls and no injected faults. The test
    fails if the proxy's strict AWS layer (strict_aws.py) broke down on one of its calls."""
    emulator.reset()
    yield emulator
    strict = emulator.proxy.strict if emulator.proxy is not None else None
    if strict is not None and strict.errors:
        pytest.fail("the strict AWS layer of the proxy failed on: " + "; ".join(strict.errors), pytrace=False)
    if strict is not None and strict.invalid:
        pytest.fail(f"{len(strict.invalid)} request(s) AWS would refuse by its API models: "
                    + "; ".join(f"{s} {a}: {why}" for s, a, why in strict.invalid[:5]), pytrace=False)


@pytest.fixture
def tf(tmp_path: Path, provider_binary: Path, aws: Emulator) -> Terraform:
    """A Terraform working directory whose provider talks to the (reset) emulator
    through the recording proxy (TF_VAR_aws_endpoint)."""
    return Terraform(tmp_path / "tf", provider_binary, aws.url)


@pytest.fixture
def tf_offline(tmp_path: Path, provider_binary: Path) -> Terraform:
    """A Terraform working directory for tests that must not reach AWS: the endpoint
    variable points at a port where nothing listens."""
    return Terraform(tmp_path / "tf", provider_binary, DEAD_ENDPOINT)


@pytest.fixture
def make_tf(tmp_path: Path, provider_binary: Path) -> Callable[..., Terraform]:
    """Factory for extra working directories: make_tf("second", endpoint=url, mode=...)."""
    def make(name: str, endpoint: str | None = DEAD_ENDPOINT, **kw: object) -> Terraform:
        return Terraform(tmp_path / name, provider_binary, endpoint, **kw)  # type: ignore[arg-type]
    return make
