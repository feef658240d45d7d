"""Distribution: `scripts/release` lays out dist/ and fills a filesystem mirror as
Terraform's provider installation expects, and a plain `terraform init` (no dev_overrides)
installs the provider from it, with the version and checksums checked.

The releases here are packed from the debug build (`--profile dev`, seconds) into
temporary directories; the repository's dist/ and ~/.terraform.d are never touched.

About checksums: Terraform records `zh:` hashes (hex sha256 of the zip, the values of
SHA256SUMS) only for packages whose SHA256SUMS a registry vouches for; from a filesystem
mirror it computes and records the `h1:` hash of the package contents instead. So the
tests check (1) the recorded h1: is the hash of the very zip SHA256SUMS lists, and (2) a
lock file pinned to SHA256SUMS's value (`zh:<sha256>`) is honoured: init installs the
zip, and a wrong zh: makes init fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from harness import (BINARY_NAME, PROVIDER_ADDR, PROVIDER_SOURCE, REPO_ROOT, Emulator, Terraform,
                     crate_version, provider_hcl)

RELEASE = REPO_ROOT / "scripts" / "release"
OS_ARCH = "linux_amd64"
MANIFEST = {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}


@dataclass
class Release:
    version: str
    dist: Path
    mirror: Path
    output: str

    @property
    def zip_name(self) -> str:
        return f"{BINARY_NAME}_{self.version}_{OS_ARCH}.zip"

    @property
    def zip(self) -> Path:
        return self.dist / self.zip_name

    @property
    def sums(self) -> Path:
        return self.dist / f"{BINARY_NAME}_{self.version}_SHA256SUMS"

    @property
    def manifest(self) -> Path:
        return self.dist / f"{BINARY_NAME}_{self.version}_manifest.json"

    @property
    def mirrored_zip(self) -> Path:
        return self.mirror / PROVIDER_ADDR / self.zip_name

    def sha256sums(self) -> dict[str, str]:
        """file name -> hex sha256, from SHA256SUMS (each line `<hex>  <name>`)."""
        out = {}
        for line in self.sums.read_text().splitlines():
            m = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
            assert m, f"malformed SHA256SUMS line {line!r}"
            out[m.group(2)] = m.group(1)
        return out


def run_release(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    override = os.environ.get("DATOMIC_PROVIDER_BINARY")
    extra = ["--binary", override] if override and "--binary" not in args else []
    return subprocess.run([str(RELEASE), *args, *extra], cwd=REPO_ROOT, env=full_env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def pack(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> Release:
    dist, mirror = tmp / "dist", tmp / "mirror"
    res = run_release("--profile", "dev", "--dist", str(dist), "--mirror", str(mirror), *extra, env=env)
    assert res.returncode == 0, f"scripts/release failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return Release(crate_version(), dist, mirror, res.stderr)


@pytest.fixture(scope="module")
def release(provider_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """`scripts/release --profile dev --mirror <tmp>` once for the module (provider_binary
    makes sure the debug build is there and fresh)."""
    return pack(tmp_path_factory.mktemp("release"))


def h1_of_zip(path: Path) -> str:
    """Terraform's h1: hash of a provider package zip (Go's dirhash.Hash1 over its members)."""
    with zipfile.ZipFile(path) as z:
        summary = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in sorted(z.namelist()))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def lock_hashes(workdir: Path) -> list[str]:
    text = (workdir / ".terraform.lock.hcl").read_text()
    m = re.search(r'provider "' + re.escape(PROVIDER_ADDR) + r'" \{(.*?)\n\}', text, re.S)
    assert m, f"no lock entry for {PROVIDER_ADDR}:\n{text}"
    entry = m.group(1)
    version = re.search(r'version\s*=\s*"([^"]+)"', entry)
    assert version and version.group(1) == crate_version(), entry
    return re.findall(r'"((?:h1|zh):[^"]+)"', entry)


def versioned_config(constraint: str, body: str = "") -> str:
    base = provider_hcl()
    plain = f'datomic = {{ source = "{PROVIDER_SOURCE}" }}'
    assert plain in base, "provider_hcl() changed shape; update versioned_config()"
    return base.replace(plain, f'datomic = {{ source = "{PROVIDER_SOURCE}", version = "{constraint}" }}') + body


def mirror_only_tf(workdir: Path, binary: Path, rel: Release, endpoint: str | None) -> Terraform:
    """A working directory whose CLI config installs providers ONLY from the mirror (no
    direct installation, no dev_overrides), as a user with a private mirror would."""
    cli = workdir.parent / f"{workdir.name}.tfrc"
    workdir.mkdir(parents=True, exist_ok=True)
    cli.write_text("provider_installation {\n  filesystem_mirror {\n"
                   f'    path = "{rel.mirror}"\n  }}\n}}\n')
    return Terraform(workdir, binary, endpoint, mode="mirror", mirror_dir=rel.mirror,
                     extra_env={"TF_CLI_CONFIG_FILE": str(cli)})


def assert_no_dev_overrides(*outputs: str) -> None:
    for out in outputs:
        assert "development overrides" not in out.lower(), out


# ---------------------------------------------------------------------------------------
# The release layout
# ---------------------------------------------------------------------------------------


def test_release_layout_and_checksums(release: Release, tmp_path: Path) -> None:
    v = release.version
    names = {p.name for p in release.dist.iterdir()}
    assert names == {release.zip_name, f"{BINARY_NAME}_{v}_SHA256SUMS", f"{BINARY_NAME}_{v}_manifest.json",
                     "terraform-registry-manifest.json"}, names
    assert "not signed" in release.output, release.output

    with zipfile.ZipFile(release.zip) as z:
        assert z.testzip() is None
        infos = z.infolist()
        assert [i.filename for i in infos] == [f"{BINARY_NAME}_v{v}"]
        mode = infos[0].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111, oct(mode)
        z.extractall(tmp_path)
    inner = tmp_path / f"{BINARY_NAME}_v{v}"
    inner.chmod(0o755)  # zipfile does not restore modes
    out = subprocess.run([str(inner), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"{BINARY_NAME} {v}", out

    assert json.loads(release.manifest.read_text()) == MANIFEST
    assert (release.dist / "terraform-registry-manifest.json").read_bytes() == release.manifest.read_bytes()
    assert json.loads((REPO_ROOT / "terraform-registry-manifest.json").read_text()) == MANIFEST

    sums = release.sha256sums()
    assert set(sums) == {release.zip_name, release.manifest.name}, sums
    for name, digest in sums.items():
        assert hashlib.sha256((release.dist / name).read_bytes()).hexdigest() == digest, name

    assert release.mirrored_zip.read_bytes() == release.zip.read_bytes()
    assert [p.name for p in release.mirrored_zip.parent.iterdir()] == [release.zip_name]


def test_release_is_idempotent_and_reproducible(release: Release, tmp_path: Path) -> None:
    """Running it again (or elsewhere) with the same binary gives byte-identical files."""
    again = pack(tmp_path)
    assert again.sums.read_text() == release.sums.read_text()
    before = release.sums.read_text()
    rerun = pack(release.dist.parent)  # same dist and mirror: overwrites in place
    assert rerun.sums.read_text() == before
    assert "replacing a different build" not in rerun.output


@pytest.fixture
def gnupghome(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """A throwaway keyring (GNUPGHOME in tmp_path) holding one fresh RSA signing key
    without a passphrase: (environment for gpg, the key's fingerprint). The gpg-agent
    that gpg starts for it is stopped afterwards."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gen = subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                          "Release Test <release-test@example.invalid>", "rsa2048", "sign", "1d"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"],
                             env=env, capture_output=True, text=True, timeout=30)
    fprs = [line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")]
    assert fprs, listing.stdout
    try:
        yield {"GNUPGHOME": str(home)}, fprs[0]
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, timeout=30)


def gpg_verify(env: dict[str, str], sig: Path, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--batch", "--status-fd", "1", "--verify", str(sig), str(data)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=30)


def test_signed_release_verifies_with_gpg(gnupghome: tuple[dict[str, str], str], tmp_path: Path,
                                          provider_binary: Path) -> None:
    """--gpg-key signs SHA256SUMS: a detached binary signature that gpg verifies with the
    key's public half, and that fails once SHA256SUMS changes. GPG_KEY_ID works too, and a
    later unsigned run removes the then stale signature."""
    env, fpr = gnupghome
    signed = pack(tmp_path / "a", "--gpg-key", fpr, env=env)
    sig = signed.sums.with_name(signed.sums.name + ".sig")
    assert sig.is_file(), signed.output
    assert not sig.read_bytes().startswith(b"-----BEGIN"), "the Registry wants a binary signature, not armor"
    ok = gpg_verify(env, sig, signed.sums)
    assert ok.returncode == 0 and f"VALIDSIG {fpr}" in ok.stdout, ok.stdout + ok.stderr
    names = {p.name for p in signed.dist.iterdir()}
    assert names >= {sig.name, "terraform-registry-manifest.json", signed.manifest.name}, names
    assert json.loads((signed.dist / "terraform-registry-manifest.json").read_text()) == MANIFEST

    tampered = tmp_path / "tampered"
    tampered.write_bytes(signed.sums.read_bytes().replace(b"  ", b"  x", 1))
    assert gpg_verify(env, sig, tampered).returncode != 0

    by_env = pack(tmp_path / "b", env={**env, "GPG_KEY_ID": fpr})
    assert gpg_verify(env, by_env.sums.with_name(by_env.sums.name + ".sig"), by_env.sums).returncode == 0

    unsigned = pack(tmp_path / "a", env=env)  # same dist, no key: the old .sig must go
    assert not sig.exists(), unsigned.output
    assert "removed" in unsigned.output


def test_release_refuses_an_unknown_gpg_key(gnupghome: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, _ = gnupghome
    dist = tmp_path / "dist"
    res = run_release("--profile", "dev", "--dist", str(dist), "--gpg-key", "NO-SUCH-KEY", env=env)
    assert res.returncode != 0 and "no secret GPG key 'NO-SUCH-KEY'" in res.stderr, res.stderr
    assert not dist.exists()


def test_release_refuses_unknown_target_and_bad_arguments(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    res = run_release("--profile", "dev", "--dist", str(dist), "--target", "sparc-sun-solaris")
    assert res.returncode != 0
    assert "unknown target 'sparc-sun-solaris'" in res.stderr and "x86_64-unknown-linux-gnu" in res.stderr, res.stderr
    res = run_release("--profile", "fast", "--dist", str(dist))
    assert res.returncode != 0 and "--profile must be 'release' or 'dev'" in res.stderr, res.stderr
    res = run_release("--no-such-flag")
    assert res.returncode != 0 and "unknown argument '--no-such-flag'" in res.stderr, res.stderr
    assert not dist.exists()
    help_ = run_release("--help")
    assert help_.returncode == 0 and "--target TRIPLE" in help_.stdout and "rustup target add" in help_.stdout


# ---------------------------------------------------------------------------------------
# terraform init from the mirror
# ---------------------------------------------------------------------------------------


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_terraform_init_installs_release_from_mirror(release: Release, provider_binary: Path, tmp_path: Path,
                                                     aws: Emulator) -> None:
    v = release.version
    tf = mirror_only_tf(tmp_path / "tf", provider_binary, release, aws.url)
    tf.write(versioned_config("~> 0.1", '\nresource "datomic_system" "main" {\n'
                                        '  name     = "dist"\n  topology = "solo"\n}\n'))

    first = tf.init()
    assert f"Installed {PROVIDER_SOURCE} v{v}" in first.stdout, first.stdout
    assert_no_dev_overrides(first.stdout, first.stderr)
    installed = tf.workdir / ".terraform" / "providers" / PROVIDER_ADDR / v / OS_ARCH / f"{BINARY_NAME}_v{v}"
    assert installed.is_file() and os.access(installed, os.X_OK), installed

    # terraform version lists the provider at the Cargo version
    ver = tf.run("version", "-json", check=True)
    assert json.loads(ver.stdout)["provider_selections"] == {PROVIDER_ADDR: v}, ver.stdout
    ver_text = tf.run("version", check=True).stdout
    assert f"+ provider {PROVIDER_ADDR} v{v}" in ver_text, ver_text

    # the lock records the h1: hash of exactly the zip SHA256SUMS lists; any zh: is SHA256SUMS's
    sums = release.sha256sums()
    assert hashlib.sha256(release.mirrored_zip.read_bytes()).hexdigest() == sums[release.zip_name]
    hashes = lock_hashes(tf.workdir)
    assert h1_of_zip(release.zip) in hashes, hashes
    assert all(h[3:] in sums.values() for h in hashes if h.startswith("zh:")), hashes

    # a second init verifies against the lock; so does a re-install from scratch
    second = tf.init()
    assert "Reusing previous version" in second.stdout, second.stdout
    shutil.rmtree(tf.workdir / ".terraform")
    third = tf.init()
    assert f"Installed {PROVIDER_SOURCE} v{v}" in third.stdout, third.stdout
    assert lock_hashes(tf.workdir) == hashes

    # plan, apply, destroy with the installed provider against the emulator
    plan = tf.plan("-detailed-exitcode")
    assert plan.rc == 2, plan.describe()
    assert "datomic_system.main will be created" in plan.stdout
    applied = tf.apply()
    assert_no_dev_overrides(plan.stdout, plan.stderr, applied.stdout, applied.stderr)
    asg = aws.boto3("autoscaling")
    assert len(asg.describe_auto_scaling_groups(AutoScalingGroupNames=["dist--primary"])["AutoScalingGroups"]) == 1
    tf.destroy()
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["dist--primary"])["AutoScalingGroups"] == []


def test_lock_pinned_to_sha256sums_is_enforced(release: Release, provider_binary: Path, tmp_path: Path) -> None:
    """zh: is the hex sha256 of the zip, i.e. SHA256SUMS's value: a lock file pinned to it
    installs the release (and Terraform adds the h1: hash); a wrong one refuses it."""
    v = release.version
    sha = release.sha256sums()[release.zip_name]

    def pinned(name: str, digest: str) -> Terraform:
        tf = mirror_only_tf(tmp_path / name, provider_binary, release, None)
        tf.write(versioned_config("~> 0.1"))
        (tf.workdir / ".terraform.lock.hcl").write_text(
            f'provider "{PROVIDER_ADDR}" {{\n  version     = "{v}"\n  constraints = "~> 0.1"\n'
            f'  hashes = [\n    "zh:{digest}",\n  ]\n}}\n')
        return tf

    good = pinned("good", sha)
    res = good.init()
    assert f"Installed {PROVIDER_SOURCE} v{v}" in res.stdout, res.stdout
    assert set(lock_hashes(good.workdir)) == {f"zh:{sha}", h1_of_zip(release.zip)}

    bad = pinned("bad", ("0" if sha[0] != "0" else "1") + sha[1:])
    res = bad.init(check=False)
    assert res.rc != 0
    assert "doesn't match any of the checksums" in " ".join((res.stdout + res.stderr).split()), res.describe()


def test_version_constraint_without_release_fails_clearly(release: Release, provider_binary: Path,
                                                          tmp_path: Path) -> None:
    tf = mirror_only_tf(tmp_path / "tf", provider_binary, release, None)
    tf.write(versioned_config("~> 0.2"))
    res = tf.init(check=False)
    assert res.rc != 0
    text = " ".join((res.stdout + res.stderr).split())
    assert "no available releases match the given constraints ~> 0.2" in text, res.describe()


def test_plain_init_finds_install_in_default_mirror(provider_binary: Path, tmp_path: Path) -> None:
    """`scripts/release --install` with no --mirror fills ~/.terraform.d/plugins, which
    Terraform searches by itself: no CLI config at all, and `terraform init` just works.
    (HOME is a temporary directory here.)"""
    home = tmp_path / "home"
    home.mkdir()
    real_home = Path.home()
    env = {"HOME": str(home),
           "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(real_home / ".rustup")),
           "CARGO_HOME": os.environ.get("CARGO_HOME", str(real_home / ".cargo"))}
    res = run_release("--profile", "dev", "--dist", str(tmp_path / "dist"), "--install", env=env)
    assert res.returncode == 0, res.stderr
    v = crate_version()
    assert (home / ".terraform.d" / "plugins" / PROVIDER_ADDR / f"{BINARY_NAME}_{v}_{OS_ARCH}.zip").is_file()

    empty_cli = tmp_path / "empty.tfrc"
    empty_cli.write_text("")  # no provider_installation block: Terraform's implicit mirrors apply
    tf = Terraform(tmp_path / "tf", provider_binary, None, mode="mirror", mirror_dir=tmp_path / "unused",
                   extra_env={"HOME": str(home), "TF_CLI_CONFIG_FILE": str(empty_cli)})
    tf.write(versioned_config(f">= {v}"))
    first = tf.init()
    assert f"Installed {PROVIDER_SOURCE} v{v}" in first.stdout, first.stdout
    assert json.loads(tf.run("version", "-json", check=True).stdout)["provider_selections"] == {PROVIDER_ADDR: v}
    assert tf.validate_json()["valid"] is True
