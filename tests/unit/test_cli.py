"""The ``mosaicflow`` command collects the subcommands of every ``<area>/cli.py``."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from mosaicflow import cli

PACKAGE = Path(cli.__file__).resolve().parent


def test_every_area_cli_module_is_listed_and_none_else():
    found = {f"mosaicflow.{p.parent.name}.cli" for p in PACKAGE.glob("*/cli.py")}
    assert set(cli.SUBCOMMAND_MODULES) == found
    assert len(set(cli.SUBCOMMAND_MODULES)) == len(cli.SUBCOMMAND_MODULES)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _leaves(
    parser: argparse.ArgumentParser, path: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    children = _subparsers(parser)
    if not children:
        return [(path, parser)]
    return [leaf for name, sub in children.items() for leaf in _leaves(sub, f"{path} {name}")]


@pytest.mark.parametrize("name", cli.SUBCOMMAND_MODULES)
def test_listed_module_registers_subcommands_with_help_and_func(name):
    parser = argparse.ArgumentParser(prog="mosaicflow")
    subparsers = parser.add_subparsers(dest="command")
    importlib.import_module(name).register(subparsers)
    assert subparsers.choices, f"{name} registered no subcommand"
    for command, leaf in _leaves(parser, "mosaicflow"):
        assert callable(leaf.get_default("func")), f"{name}: {command} sets no func"
        assert leaf.description, f"{name}: {command} has no description for --help"


def test_parser_holds_every_registered_subcommand(capsys):
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert "videos" in commands and len(commands) >= len(cli.SUBCOMMAND_MODULES)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "videos" in capsys.readouterr().out


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` and its bytes (links as their target's bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _writes_over_an_input(t: Path) -> dict[str, list[str]]:
    """Per subcommand that takes input and output paths, a call whose output is (or holds, or
    lies in) one of its inputs; the inputs are placeholders, refused before they are read."""
    for folder in ("in", "v", "c", "results/review/label_overrides"):
        (t / folder).mkdir(parents=True)
    for name in ("in/a.json", "in/a.png", "v/v.mp4", "c/coco.json", "m.pt", "r.pth"):
        (t / name).write_bytes(name.encode())
    (t / "results/review/verdicts.json").write_text("{}")
    i, v, m = str(t / "in"), str(t / "v" / "v.mp4"), str(t / "m.pt")
    return {
        "labelme-to-yolo": [
            "convert", "labelme-to-yolo", "--train", i, "--labels", "a", "--out", i,
        ],
        "labelme-to-yolo-parent": [
            "convert", "labelme-to-yolo", "--train", i, "--labels", "a", "--out", str(t),
        ],
        "yolo-to-labelme": [
            "convert", "yolo-to-labelme", "--images", i, "--labels", i, "--names", "a", "--out", i,
        ],
        "masks-to-coco": [
            "convert", "masks-to-coco", "--masks", i, "--categories", "a", "--out", f"{i}/a.png",
        ],
        "coco-to-yolo": [
            "convert", "coco-to-yolo", "--coco", str(t / "c/coco.json"), "--names", "a",
            "--out", str(t / "c"),
        ],
        "prelabel": ["prelabel", "--model", m, "--input", i, "--output", i],
        "detect": ["detect", v, "--model", m, "--out", str(t / "v")],
        "restore": ["restore", v, v, "--detector", m, "--restorer", str(t / "r.pth")],
        "restore-masks-out": [
            "restore", v, str(t / "o.mp4"), "--detector", m, "--restorer", str(t / "r.pth"),
            "--masks-out", m,
        ],
        "frames": ["frames", v, "--output", str(t / "v")],
        "sort": ["sort", "--images", i, "--by", "blur", "--out", i],
        "quality": ["quality", v, "--weights", m, "--out", str(t / "v")],
        "review-import": [
            "review", "import", str(t / "results/review/verdicts.json"),
            "--results", str(t / "results"),
        ],
        "review-import-labels": [
            "review", "import-labels", str(t / "results/review/label_overrides"),
            "--results", str(t / "results"),
        ],
    }  # fmt: skip


OVERLAPS = [
    "labelme-to-yolo", "labelme-to-yolo-parent", "yolo-to-labelme", "masks-to-coco",
    "coco-to-yolo", "prelabel", "detect", "restore", "restore-masks-out", "frames", "sort",
    "quality", "review-import", "review-import-labels",
]  # fmt: skip


@pytest.mark.parametrize("case", OVERLAPS)
def test_no_command_writes_over_its_inputs(case, tmp_path, capsys):
    cases = _writes_over_an_input(tmp_path)
    assert sorted(cases) == sorted(OVERLAPS)
    argv = cases[case]
    before = _tree(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "output" in err and str(tmp_path) in err, err
    assert _tree(tmp_path) == before  # nothing changed, nothing added


FOLDER_OUTPUTS = {
    "labelme-to-yolo": ["convert", "labelme-to-yolo", "--train", "{in}", "--labels", "a"],
    "yolo-to-labelme": [
        "convert", "yolo-to-labelme", "--images", "{in}", "--labels", "{in}", "--names", "a",
    ],
    "coco-to-yolo": ["convert", "coco-to-yolo", "--coco", "{in}/a.json", "--names", "a"],
    "prelabel": ["prelabel", "--model", "{m}", "--input", "{in}"],
    "detect": ["detect", "{in}/v.mp4", "--model", "{m}"],
    "frames": ["frames", "{in}/v.mp4"],
    "sort": ["sort", "--images", "{in}", "--by", "blur"],
    "quality": ["quality", "{in}/v.mp4", "--weights", "{m}"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(FOLDER_OUTPUTS))
def test_no_command_writes_into_a_foreign_folder(command, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    for name in ("in/a.json", "in/v.mp4", "m.pt"):
        (tmp_path / name).write_bytes(name.encode())
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("the user's")
    args = [
        a.format(**{"in": tmp_path / "in", "m": tmp_path / "m.pt"}) for a in FOLDER_OUTPUTS[command]
    ]
    flag = "--output" if command in ("prelabel", "frames") else "--out"
    before = _tree(tmp_path)
    assert cli.main([*args, flag, str(foreign)]) == 2
    assert "is not an earlier output of" in capsys.readouterr().err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("command", ["detect", "frames", "prelabel", "quality", "sort"])
def test_a_command_that_fails_leaves_no_output_folder(command, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "v.mp4").write_bytes(b"not a video")
    (tmp_path / "in" / "a.png").write_bytes(b"not an image")
    (tmp_path / "m.pt").write_bytes(b"not a model")
    args = [
        a.format(**{"in": tmp_path / "in", "m": tmp_path / "m.pt"}) for a in FOLDER_OUTPUTS[command]
    ]
    flag = "--output" if command in ("prelabel", "frames") else "--out"
    out = tmp_path / "out" / "run1"
    before = _tree(tmp_path)
    assert cli.main([*args, flag, str(out)]) != 0
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))
    assert _tree(tmp_path) == before


def test_videos_lists_every_video_the_workflow_runs_and_names_a_bad_config(tmp_path, capsys):
    from mosaicflow.config import validate_config
    from mosaicflow.plan.cli import read_configs
    from mosaicflow.plan.run import Run

    demo = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
    assert cli.main(["videos", "--configfile", str(demo)]) == 0
    listed = {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()}
    config = read_configs([str(demo)])
    validate_config(config)
    assert listed == set(Run.from_config(config).videos)  # the re-uploads among them
    assert any("reupload" in name for name in listed)

    (tmp_path / "bad.yaml").write_text("source: [\n")
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "over.yaml").write_text("source: {seed: 5}\n")
    for name, message in (("bad", "cannot read the config"), ("list", "not a list")):
        assert cli.main(["videos", "--configfile", str(tmp_path / f"{name}.yaml")]) == 2
        err = capsys.readouterr().err
        assert f"{name}.yaml: " in err and message in err
    merged = read_configs([str(demo), str(tmp_path / "over.yaml")])
    assert merged["source"]["seed"] == 5 and "kind" in merged["source"]  # merged, not replaced


@pytest.mark.parametrize("command", ["quality", "detect", "prelabel", "restore", "review-frames"])
@pytest.mark.parametrize("threads", ["0", "-5", "100000", "two"])
def test_threads_out_of_range_are_refused_naming_the_option(command, threads, tmp_path, capsys):
    argv = {
        "quality": ["quality", "v.mp4", "--weights", "q.pt", "--out", "o"],
        "detect": ["detect", "v.mp4", "--model", "m.pt", "--out", "o"],
        "prelabel": ["prelabel", "--model", "m.pt", "--input", "i", "--output", "o"],
        "restore": ["restore", "v.mp4", "o.mp4", "--detector", "m.pt", "--restorer", "r.pth"],
        "review-frames": ["review", "frames", "v.mp4", "--model", "m.pt", "--out", "o"],
    }[command]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--threads", threads])
    assert exit_info.value.code == 2
    assert "--threads" in capsys.readouterr().err


def test_inspect_names_a_split_the_dataset_does_not_have(tmp_path, capsys):
    for split in ("train", "val", "test"):
        (tmp_path / "results" / "detection_dataset" / split / "images").mkdir(parents=True)
    results = str(tmp_path / "results")
    assert cli.main(["inspect", "--results", results, "--no-app", "--splits", "bogus,val"]) == 2
    assert "--splits: ['bogus'] not in" in capsys.readouterr().err


@pytest.fixture
def pascal_gpu(monkeypatch):
    """A machine whose one GPU (compute capability 6.1) this torch build has no kernels for."""
    import torch

    from mosaicflow.plan import gpu

    monkeypatch.setattr(gpu, "cuda_visible", lambda: True)
    monkeypatch.setattr(gpu, "cuda_gpu", lambda i: gpu.CudaGpu(i, "GeForce GTX 1080", (6, 1)))
    monkeypatch.setattr(gpu, "torch_arch_list", lambda: ["sm_75", "sm_80"])
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_auto_runs_on_the_cpu_where_torch_cannot_use_the_gpu(pascal_gpu, caplog):
    assert cli.runnable_device("auto") == "cpu"
    assert "GTX 1080 (compute capability 6.1), which this torch build has no kernels" in caplog.text
    assert cli.runnable_device("cpu") == "cpu"
    with pytest.raises(ValueError, match=r"--device cuda:0: GeForce GTX 1080 .* use --device cpu"):
        cli.runnable_device("cuda:0")
    for odd in ("cuda:x", "cudax", "cuda:", "cuda:-1", "CUDA"):
        assert cli.runnable_device(odd) == odd  # left to the device resolver, which names it


def test_a_command_asked_for_a_gpu_torch_cannot_use_says_so(pascal_gpu, tmp_path, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    argv = ["detect", str(video), "--model", "m.pt", "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "mosaicflow detect: error: --device cuda: GeForce GTX 1080" in err
    assert not (tmp_path / "o").exists()


def test_auto_keeps_a_gpu_torch_can_use(monkeypatch):
    import torch

    from mosaicflow.plan import gpu

    monkeypatch.setattr(gpu, "cuda_visible", lambda: True)
    monkeypatch.setattr(gpu, "cuda_gpu", lambda i: gpu.CudaGpu(i, "H200", (9, 0)))
    monkeypatch.setattr(gpu, "torch_arch_list", lambda: ["sm_80", "sm_90"])
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert cli.runnable_device("auto") == "auto"
    assert cli.runnable_device("cuda:0") == "cuda:0"
