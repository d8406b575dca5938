"""Code hashes change exactly when the named modules change."""

from __future__ import annotations

from mosaicflow.workflow import codehash


def test_hash_is_stable_and_module_specific():
    assert codehash.code_hash("mosaicflow.workflow") == codehash.code_hash("mosaicflow.workflow")
    assert codehash.code_hash("mosaicflow.workflow") != codehash.code_hash("mosaicflow.cli")


def test_hash_follows_file_content(tmp_path, monkeypatch):
    pkg = tmp_path / "mosaicflow"
    (pkg / "alpha").mkdir(parents=True)
    for core in ("config", "io", "provenance", "ids"):
        (pkg / f"{core}.py").write_text("")
    (pkg / "alpha" / "a.py").write_text("x = 1\n")
    (pkg / "beta.py").write_text("y = 1\n")
    monkeypatch.setattr(codehash, "PACKAGE_ROOT", pkg)
    first_alpha = codehash.code_hash.__wrapped__("mosaicflow.alpha")
    first_beta = codehash.code_hash.__wrapped__("mosaicflow.beta")
    (pkg / "alpha" / "a.py").write_text("x = 2\n")
    assert codehash.code_hash.__wrapped__("mosaicflow.alpha") != first_alpha
    assert codehash.code_hash.__wrapped__("mosaicflow.beta") == first_beta


def test_unknown_module_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="no such mosaicflow module"):
        codehash.code_hash("mosaicflow.nope")
