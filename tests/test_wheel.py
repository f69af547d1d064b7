"""What the step images are built from, without Docker (no engine runs here): the wheel (built through
its sdist, as `make wheel` and pipeline/docker/Dockerfile do), a fresh environment of the lock plus that
wheel running `colornet demo` outside the checkout, the GPU lock, and the files the Dockerfiles copy."""
import fnmatch
import importlib.metadata
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from packaging.requirements import Requirement

from colornet.pipeline.commands import CONTAINER_SCHEMA_PATH
from colornet.schemas import RAW_SCHEMA_PATH, SCHEMA_DIR

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("pipeline", "components", "serving", "schemas")
DOCKER = REPO / "pipeline" / "docker"
GPU_LOCK = DOCKER / "requirements-gpu.lock"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)", re.MULTILINE)
PYTHON310 = pathlib.Path(sys.base_prefix) / "bin" / "python3.10"  # the interpreter under this venv


def _uv(*args, **kwargs):
    uv = shutil.which("uv")
    assert uv, "uv is needed (the Makefile installs it: python3 -m pip install uv)"
    return subprocess.run([uv, *args], capture_output=True, text=True, check=True, **kwargs)


def _pins(lock_text):
    return {name.lower().replace("_", "-"): version for name, version in PIN.findall(lock_text)}


def _package_files():
    """The package folders' files, as git sees them (tracked, or new and not ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *PACKAGE_FOLDERS],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [path for path in listed if not path.startswith("pipeline/docker/")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _uv("build", "--quiet", "--out-dir", str(out), str(REPO), timeout=600)
    (built,) = out.glob("colornet-*.whl")
    return built


def test_wheel_carries_every_module_the_schema_and_the_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"colornet/{path}" for path in _package_files()}
    assert "colornet/schemas/raw/schema.pbtxt" in expected and "colornet/serving/templates/kubernetes.yml" in expected
    assert expected <= names, sorted(expected - names)
    packaged = {name for name in names if name.startswith("colornet/")}
    assert packaged == expected, sorted(packaged - expected)  # nothing else: no tests, no Dockerfiles


def test_compiled_pipelines_look_for_the_schema_where_the_images_install_it():
    installed = pathlib.PurePosixPath("colornet", "schemas", RAW_SCHEMA_PATH.relative_to(SCHEMA_DIR))
    # python:3.10-slim's site-packages, where `uv pip install --system` puts the wheel
    assert CONTAINER_SCHEMA_PATH == f"/usr/local/lib/python3.10/site-packages/{installed}"
    assert "CONTAINER_SCHEMA_PATH" in (DOCKER / "Dockerfile").read_text()  # and the image build checks it


def test_gpu_lock_is_the_lock_plus_tensorflows_cuda_wheels():
    cpu = _pins((REPO / "requirements.lock").read_text())
    gpu = _pins(GPU_LOCK.read_text())
    assert {name: gpu.get(name) for name in cpu} == cpu  # nothing the CPU image pins moves
    cuda = {}
    for line in importlib.metadata.requires("tensorflow"):
        requirement = Requirement(line)
        if requirement.marker and requirement.marker.evaluate({"extra": "and-cuda"}) \
                and not requirement.marker.evaluate({"extra": ""}):
            (specifier,) = requirement.specifier
            cuda[requirement.name.lower()] = specifier.version
    assert cuda and all(name.startswith("nvidia-") for name in cuda)
    assert {name: version for name, version in gpu.items() if name not in cpu} == cuda


@pytest.mark.slow
def test_gpu_lock_resolves_again_from_the_registry(tmp_path):
    output = tmp_path / "requirements-gpu.lock"
    _uv("pip", "compile", "--quiet", str(DOCKER / "requirements-gpu.in"), "-c", "requirements.lock",
        "-o", str(output), "--python", str(PYTHON310), "--python-version", "3.10",
        "--python-platform", "x86_64-unknown-linux-gnu", cwd=REPO, timeout=600)
    assert _pins(output.read_text()) == _pins(GPU_LOCK.read_text())


def _ignored(path, patterns):
    return any(fnmatch.fnmatch(part, pattern) for pattern in patterns for part in pathlib.PurePath(path).parts)


def test_dockerfiles_copy_files_that_the_build_context_has():
    ignored = [line.strip().rstrip("/").removeprefix("**/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    text = (DOCKER / "Dockerfile").read_text()
    locks = re.findall(r"^ARG LOCK=(\S+)", text, re.MULTILINE) + re.findall(r"--build-arg LOCK=(\S+)", text)
    assert locks == ["requirements.lock", "pipeline/docker/requirements-gpu.lock"]
    for lock in locks:
        assert (REPO / lock).is_file() and not _ignored(lock, ignored), lock
    for dockerfile in DOCKER.glob("Dockerfile*"):
        for source in re.findall(r"^COPY (?!--from)(\S+) ", dockerfile.read_text(), re.MULTILINE):
            if source not in (".", "${LOCK}"):
                assert (REPO / source).exists() and not _ignored(source, ignored), (dockerfile.name, source)
    for needed in ("setup.py", "requirements.lock", *PACKAGE_FOLDERS):  # what `COPY . /src` must bring
        assert not _ignored(needed, ignored), needed


@pytest.mark.slow
def test_wheel_over_the_lock_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    _uv("venv", "--quiet", "--python", str(PYTHON310), str(venv), timeout=600)
    _uv("pip", "install", "--quiet", "--python", python, "-r", str(REPO / "requirements.lock"), timeout=1800)
    _uv("pip", "install", "--quiet", "--python", python, "--no-deps", str(wheel), timeout=600)
    site_packages = venv / "lib" / "python3.10" / "site-packages"
    assert not list(site_packages.glob("__editable__*")) and not list(site_packages.glob("*.egg-link"))

    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    located = subprocess.run([python, "-c", "import colornet.pipeline.cli as cli; print(cli.__file__)"],
                             cwd=outside, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert pathlib.Path(located).is_relative_to(site_packages), located

    workdir = outside / "demo"
    demo = subprocess.run(
        [str(venv / "bin" / "colornet"), "demo", "--workdir", str(workdir), "--variant", "alpha", "--image-size", "32",
         "--epochs", "1", "--train-steps", "10", "--eval-steps", "1",
         "--max-ab-mse-vs-gray", "100"],  # the installation is under test, not the model: bless it
        cwd=outside, env=env, capture_output=True, text=True, timeout=3600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"Colorized photo: {workdir / 'colorized.png'}" in demo.stdout
    assert (workdir / "colorized.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [path.name for path in (workdir / "serving" / "colornet").iterdir() if path.name.isdigit()]
