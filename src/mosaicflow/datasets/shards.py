"""Tar shards in the WebDataset layout, with an index for random access.

A dataset is packed as samples: the files of one sample share a key and are stored as
``<key>.<ext>`` members (``world-00-000003.mp4``, ``world-00-000003.mask.mkv``...), the members of
one sample next to each other and never split across shards. Shards are plain, uncompressed
POSIX tar files (``<prefix>-000000.tar``...), filled in sample order up to ``max_bytes`` (a
sample larger than that gets a shard of its own). Every header is fixed (mtime 0, uid/gid 0, no
user or group names, mode 0644) and samples come in sorted key order, so the same files give the
same bytes. ``index.parquet`` lists every member (key, ext, shard, offset of its data, size), so
a loader reads one member with a seek; nothing is pickled. Any tar tool unpacks the shards, and
WebDataset's loaders stream them as they are.
"""

from __future__ import annotations

import io
import itertools
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from mosaicflow.file_names import is_bare_name
from mosaicflow.io import load_yaml, write_text

#: Columns of ``index.parquet``.
INDEX_COLUMNS = {
    "key": "string",
    "ext": "string",
    "shard": "string",
    "offset": "int64",
    "size": "int64",
}
INDEX_FILE = "index.parquet"
_BLOCK = 512


@dataclass(frozen=True)
class Sample:
    """One sample to pack: its key and its files by extension (``{"mp4": path, ...}``)."""

    key: str
    files: Mapping[str, Path]


def _check_key(key: str, ext: str) -> None:
    if not key or key.startswith("/") or ".." in key.split("/") or "." in key.rsplit("/", 1)[-1]:
        raise ValueError(f"shard key {key!r}: must be a relative path without dots in its name")
    if not ext or ext.startswith(".") or "/" in ext:
        raise ValueError(f"shard member {key}.{ext}: bad extension {ext!r}")


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _shard_bytes(content: int) -> int:
    """The size of a tar file holding ``content`` member bytes: two zero blocks end it and
    tarfile pads it to whole records."""
    record = tarfile.RECORDSIZE
    return -(-(content + 2 * _BLOCK) // record) * record


def _sample_bytes(sample: Sample) -> int:
    """Tar bytes of a sample (headers and padded data; long names add a PAX header)."""
    total = 0
    for ext, path in sample.files.items():
        name = f"{sample.key}.{ext}"
        total += _BLOCK * (1 if len(name.encode()) <= 100 else 3) + _padded(
            Path(path).stat().st_size
        )
    return total


def write_shards(
    samples: Iterable[Sample], out_dir: Path, *, prefix: str, max_bytes: int
) -> pd.DataFrame:
    """Pack ``samples`` into shards in ``out_dir`` and write its ``index.parquet``.

    Args:
        samples: the samples (packed in sorted key order; keys must be unique).
        out_dir: the folder of the shards (created; it must not hold shards already).
        prefix: the shards' name prefix.
        max_bytes: the size a shard is filled up to (bytes).

    Returns:
        The index (see :data:`INDEX_COLUMNS`), also written to ``out_dir/index.parquet``.

    Raises:
        ValueError: a duplicate or malformed key, naming it; a missing file, naming it.
    """
    from mosaicflow.io import write_parquet

    ordered = sorted(samples, key=lambda s: s.key)
    for a, b in itertools.pairwise(ordered):
        if a.key == b.key:
            raise ValueError(f"two samples share the key {a.key!r}")
    for sample in ordered:
        for ext, path in sample.files.items():
            _check_key(sample.key, ext)
            if not Path(path).is_file():
                raise ValueError(f"{path}: missing file of sample {sample.key}")
    groups: list[list[Sample]] = []
    filled = 0
    for sample in ordered:
        size = _sample_bytes(sample)
        if not groups or (_shard_bytes(filled + size) > max_bytes and groups[-1]):
            groups.append([])
            filled = 0
        groups[-1].append(sample)
        filled += size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.glob(f"{prefix}-*.tar")):
        raise ValueError(f"{out_dir}: holds {prefix} shards already")
    rows: list[dict[str, object]] = []
    for number, group in enumerate(groups):
        shard = f"{prefix}-{number:06d}.tar"
        _write_tar(out_dir / shard, group)
        rows += _members(out_dir / shard)
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS)).astype(INDEX_COLUMNS)
    write_parquet(out_dir / INDEX_FILE, index)
    return index


def _write_tar(path: Path, samples: Sequence[Sample]) -> None:
    from mosaicflow.io import atomic_path

    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for sample in samples:
            for ext in sorted(sample.files):
                data = Path(sample.files[ext]).read_bytes()
                tar.addfile(_member(f"{sample.key}.{ext}", len(data)), io.BytesIO(data))


def _members(shard: Path) -> list[dict[str, object]]:
    rows = []
    with tarfile.open(shard, "r:") as tar:
        for info in tar:
            key, ext = split_name(info.name)
            rows.append(
                {"key": key, "ext": ext, "shard": shard.name, "offset": info.offset_data,
                 "size": info.size}
            )  # fmt: skip
    return rows


def split_name(name: str) -> tuple[str, str]:
    """A member name -> (key, ext): the extension starts at the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    if not dot:
        raise ValueError(f"shard member {name!r} has no extension")
    return (f"{folder}/{stem}" if folder else stem), ext


class ShardReader:
    """Random access to the members of a shard folder through its ``index.parquet``.

    Raises:
        ValueError: naming the index when it is missing or malformed.
    """

    def __init__(self, shard_dir: Path) -> None:
        self.dir = Path(shard_dir)
        path = self.dir / INDEX_FILE
        if not path.is_file():
            raise ValueError(f"{path}: no shard index (is {self.dir} a shard folder?)")
        index = pd.read_parquet(path)
        missing = set(INDEX_COLUMNS) - set(index.columns)
        if missing:
            raise ValueError(f"{path}: not a shard index, lacks columns {sorted(missing)}")
        self.index = index
        self._where = {
            (k, e): (s, int(o), int(n))
            for k, e, s, o, n in index[list(INDEX_COLUMNS)].itertuples(index=False)
        }
        self._check_shards(path)

    def _check_shards(self, index_path: Path) -> None:
        """Every shard the index names is a regular file of this folder, and every member lies
        inside its shard.

        Raises:
            ValueError: naming the index and the shard or member (another folder's index, or an
                edited one).
        """
        sizes: dict[str, int] = {}
        for shard in dict.fromkeys(str(s) for s in self.index["shard"]):
            path = self.dir / shard
            if not is_bare_name(shard) or not path.is_file():
                raise ValueError(f"{index_path}: shard {shard!r} is not a file of {self.dir}")
            sizes[shard] = path.stat().st_size
        for (key, ext), (shard, offset, size) in self._where.items():
            if offset < 0 or size < 0 or offset + size > sizes[str(shard)]:
                raise ValueError(f"{index_path}: member {key}.{ext} lies outside {shard} "
                                 f"(offset {offset}, size {size})")  # fmt: skip

    def keys(self) -> list[str]:
        """The sample keys, in shard order."""
        return list(dict.fromkeys(self.index["key"].tolist()))

    def read(self, key: str, ext: str) -> bytes:
        """The bytes of member ``<key>.<ext>``.

        Raises:
            KeyError: naming the member and the folder when it is not in the index.
            ValueError: naming the shard when it is shorter than the index says.
        """
        try:
            shard, offset, size = self._where[(key, ext)]
        except KeyError:
            raise KeyError(f"{self.dir}: no member {key}.{ext} in the shard index") from None
        with open(self.dir / shard, "rb") as handle:
            handle.seek(offset)
            data = handle.read(size)
        if len(data) != size:
            raise ValueError(f"{self.dir / shard}: truncated at member {key}.{ext}")
        return data


def unpack_shards(shard_dir: Path, out_dir: Path) -> list[Path]:
    """Unpack every shard of ``shard_dir`` (in index order) into ``out_dir`` (written
    atomically: a failure leaves no partial folder).

    Returns:
        The unpacked files.

    Raises:
        ValueError: naming the shard when a member would land outside ``out_dir``.
    """
    from mosaicflow.io import atomic_dir

    reader = ShardReader(shard_dir)
    out_dir = Path(out_dir)
    names: list[str] = []
    with atomic_dir(out_dir) as tmp:
        for shard in dict.fromkeys(reader.index["shard"].tolist()):
            try:
                with tarfile.open(reader.dir / shard, "r:") as tar:
                    tar.extractall(tmp, filter="data")
                    names += [info.name.lstrip("/") for info in tar.getmembers() if info.isfile()]
            except tarfile.FilterError as error:
                raise ValueError(f"{reader.dir / shard}: {error}") from None
            except tarfile.TarError as error:
                raise ValueError(f"{reader.dir / shard}: not a readable tar ({error})") from None
    return [out_dir / name for name in names]


#: The clip index inside a clip shard folder (the restoration dataset's ``index.parquet``).
CLIP_TABLE = "clips.parquet"
#: Files of the detection dataset copied beside its shards as they are.
DETECTION_EXTRAS = ("samples.parquet", "provenance.json")


@dataclass(frozen=True)
class ShardResult:
    """What one packing wrote."""

    samples: int
    shards: int
    bytes: int


def _ext(path: str, role: str = "") -> str:
    suffix = Path(path).suffix.lstrip(".")
    return f"{role}.{suffix}" if role else suffix


def clip_samples(index: pd.DataFrame, root: Path) -> list[Sample]:
    """The kept clips of a restoration dataset as samples: key = clip id; the clip video
    (``mp4``), its mask video (``mask.mkv``) and its metadata (``json``)."""
    rows = index[index["kept"].astype(bool)]
    return [
        Sample(
            str(row.clip),
            {
                _ext(row.clip_path): root / row.clip_path,
                _ext(row.mask_path, "mask"): root / row.mask_path,
                _ext(row.meta_path): root / row.meta_path,
            },
        )
        for row in rows.itertuples()
    ]


def shard_clips(dataset_dir: Path, out_dir: Path, *, max_bytes: int) -> ShardResult:
    """Pack a restoration dataset's kept clips into ``out_dir`` (replaced atomically) with its
    clip index as ``clips.parquet``; :meth:`MosaicClipDataset.from_shards` reads them."""
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.io import atomic_dir, write_parquet

    dataset_dir = Path(dataset_dir)
    index = read_index(dataset_dir / "index.parquet")
    with atomic_dir(out_dir) as tmp:
        table = write_shards(
            clip_samples(index, dataset_dir), tmp, prefix="clips", max_bytes=max_bytes
        )
        write_parquet(tmp / CLIP_TABLE, index)
        return _result(tmp, table)


#: A detection sample's mask members (extension -> folder of its split).
MASK_FOLDERS = {"mask.png": "masks", "face_mask.png": "face_masks"}


def detection_samples(dataset_dir: Path) -> list[Sample]:
    """The images of a detection dataset as samples: key = ``<split>/<stem>``; the image
    (``png``...), its mosaic mask (``mask.png``), with faces its face mosaic mask
    (``face_mask.png``), and its YOLO label (``txt``)."""
    from mosaicflow.formats.images import list_images

    samples = []
    for split in ("train", "val", "test"):
        folder = Path(dataset_dir) / split
        if not folder.is_dir():
            continue
        for image in list_images(folder / "images"):
            files = {_ext(image.name): image, "txt": folder / "labels" / f"{image.stem}.txt"}
            for ext, sub in MASK_FOLDERS.items():
                mask = folder / sub / f"{image.stem}.png"
                if mask.is_file():
                    files[ext] = mask
            samples.append(Sample(f"{split}/{image.stem}", files))
    return samples


def shard_detection(dataset_dir: Path, out_dir: Path, *, max_bytes: int) -> ShardResult:
    """Pack a detection dataset's images, masks and labels into ``out_dir`` (replaced
    atomically), with its ``data.yaml`` (paths relative to the unpacked folder), sample table
    and provenance beside the shards; :func:`unpack_shards` gives back the YOLO folder."""
    import shutil

    from mosaicflow.io import atomic_dir

    dataset_dir = Path(dataset_dir)
    with atomic_dir(out_dir) as tmp:
        table = write_shards(
            detection_samples(dataset_dir), tmp, prefix="detection", max_bytes=max_bytes
        )
        for name in DETECTION_EXTRAS:
            if (dataset_dir / name).is_file():
                shutil.copyfile(dataset_dir / name, tmp / name)
        data = load_yaml((dataset_dir / "data.yaml").read_text(encoding="utf-8"))
        splits = sorted({key.split("/", 1)[0] for key in table["key"]})
        relative = {split: f"{split}/images" for split in splits}
        write_text(
            tmp / "data.yaml",
            yaml.safe_dump({**relative, "nc": data["nc"], "names": data["names"]}, sort_keys=False),
        )
        return _result(tmp, table)


def unpack_detection(shard_dir: Path, out_dir: Path) -> Path:
    """Rebuild the YOLO folder of a detection dataset from its shards: ``<split>/images``,
    ``labels``, ``masks`` (and ``face_masks`` with faces) and a ``data.yaml`` with paths
    relative to ``out_dir`` (written atomically: a failure leaves no partial folder).

    Returns:
        ``out_dir``.

    Raises:
        ValueError: naming the index when a member's key would leave ``out_dir`` or is not
            ``<split>/<stem>``.
    """
    import shutil

    from mosaicflow.io import atomic_dir

    reader = ShardReader(shard_dir)
    index_file = reader.dir / INDEX_FILE
    folders = {"txt": "labels", **MASK_FOLDERS}
    with atomic_dir(out_dir) as tmp:
        for key, ext in reader.index[["key", "ext"]].itertuples(index=False):
            try:
                _check_key(key, ext)
            except ValueError as error:
                raise ValueError(f"{index_file}: {error}") from None
            split, _, stem = key.partition("/")
            if not stem or "/" in stem:
                raise ValueError(f"{index_file}: key {key!r} is not <split>/<stem>")
            name = f"{stem}.png" if ext in MASK_FOLDERS else f"{stem}.{ext}"
            target = tmp / split / folders.get(ext, "images") / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(reader.read(key, ext))
        for name in ("data.yaml", *DETECTION_EXTRAS):
            if (reader.dir / name).is_file():
                shutil.copyfile(reader.dir / name, tmp / name)
    return Path(out_dir)


def _result(folder: Path, table: pd.DataFrame) -> ShardResult:
    shards = sorted(folder.glob("*.tar"))
    return ShardResult(
        samples=int(table["key"].nunique()),
        shards=len(shards),
        bytes=sum(p.stat().st_size for p in shards),
    )
