"""Installed files are named by their place in the installation and their content, so the same
file found elsewhere (a moved environment or checkout) is the same reference."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from mosaicflow import installed
from mosaicflow.installed import InstalledFileError, locate, path_of, reference


def site_with_package(root: Path, data: bytes) -> Path:
    """``root`` as a site folder holding the package ``mfakepkg`` with one data file."""
    package = root / "mfakepkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "w.onnx").write_bytes(data)
    return package / "models" / "w.onnx"


@pytest.fixture
def on_path(monkeypatch):
    """Put a site folder first on ``sys.path`` (the package is found there)."""

    def use(site: Path) -> None:
        monkeypatch.setattr(sys, "path", [str(site), *sys.path])
        importlib.invalidate_caches()

    return use


def test_a_package_file_is_the_same_reference_wherever_the_environment_lies(tmp_path, on_path):
    first = site_with_package(tmp_path / "env-a" / "site-packages", b"weights")
    on_path(first.parents[2])
    ref = reference(first, "mfakepkg")
    assert ref is not None and ref["in"] == "mfakepkg"
    assert ref["file"] == "mfakepkg/models/w.onnx" and len(ref["sha256"]) == 64
    assert locate(ref) == first.resolve()

    moved = site_with_package(tmp_path / "env-b" / "lib" / "site-packages", b"weights")
    on_path(moved.parents[2])
    assert reference(moved, "mfakepkg") == ref
    assert locate(ref) == moved.resolve()
    assert path_of(ref) == str(moved.resolve())


def test_another_content_is_another_reference_and_fails_to_locate(tmp_path, on_path):
    file = site_with_package(tmp_path / "site", b"weights")
    on_path(file.parents[2])
    ref = reference(file, "mfakepkg")
    file.write_bytes(b"other weights")
    assert reference(file, "mfakepkg")["sha256"] != ref["sha256"]
    with pytest.raises(InstalledFileError, match=r"w\.onnx: its content .* is not the planned"):
        locate(ref)
    file.unlink()
    with pytest.raises(InstalledFileError, match=r"w\.onnx: missing"):
        locate(ref)


def test_a_package_that_is_not_installed_is_named():
    ref = {"in": "mfakepkg_absent", "file": "mfakepkg_absent/w.onnx", "sha256": "0" * 64}
    with pytest.raises(InstalledFileError, match="'mfakepkg_absent' that ships it"):
        locate(ref)


def test_repository_resources_are_references_and_user_files_are_not(tmp_path, monkeypatch):
    resources = tmp_path / "checkout" / "resources"
    (resources / "base").mkdir(parents=True)
    weights = resources / "base" / "generator.pth"
    weights.write_bytes(b"base")
    monkeypatch.setattr(installed, "REPO_ROOT", tmp_path / "checkout")
    monkeypatch.setattr(installed, "RESOURCES", resources)
    ref = reference(weights)
    assert ref == {
        "in": installed.REPOSITORY,
        "file": "resources/base/generator.pth",
        "sha256": installed.content_hash(weights),
    }
    assert locate(ref) == weights
    user = tmp_path / "mine.pth"
    user.write_bytes(b"base")
    assert reference(user) is None
    # the checkout's other files (a results folder inside it) are the user's too
    (tmp_path / "checkout" / "results").mkdir()
    inside = tmp_path / "checkout" / "results" / "stage1.pth"
    inside.write_bytes(b"x")
    assert reference(inside) is None
    assert path_of("weights.pth") == "weights.pth" and path_of(None) is None
