"""Omniglot (Lake et al., 2015): 1623 handwritten characters from 50 alphabets, 20 drawings each.

Layout on disk (official release): ``images_background/<Alphabet>/characterNN/IIII_DD.png`` (30
alphabets) and ``images_evaluation/...`` (20 alphabets), as folders or as the two zips. The first load
decodes every PNG once, resizes it and stores a uint8 tensor in :func:`~metalearn_lib.config.cache_dir`;
later loads read that tensor, so drawing an episode decodes no PNG.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checkpoints import atomic_torch_save
from ..config import cache_dir, data_root
from .base import FewShotDataset

BACKGROUND, EVALUATION = "images_background", "images_evaluation"
#: Background alphabets held out of meta-training for validation (model selection, early stopping).
VAL_ALPHABETS = ("Bengali", "Futurama", "Hebrew", "Korean", "Tagalog")
#: split name -> (source, which alphabets of it)
SPLITS = {
    "train": (BACKGROUND, "not-val"),
    "val": (BACKGROUND, "val"),
    "test": (EVALUATION, "all"),
    "background": (BACKGROUND, "all"),
    "evaluation": (EVALUATION, "all"),
}
_PNG = re.compile(r"(?:^|/)images_(?:background|evaluation)/([^/]+)/(character\d+)/[^/]+\.png$")
_CACHE_VERSION = 1
HOW_TO_GET = (
    "Set METALEARN_DATA to a folder holding omniglot/images_background(.zip) and "
    "omniglot/images_evaluation(.zip), or download the official zips with "
    "`python -m metalearn_lib fetch-data` (or Omniglot(..., download=True))."
)


def omniglot_dir(root: str | Path | None = None) -> Path:
    """``<root>/omniglot`` with ``root`` defaulting to :func:`~metalearn_lib.config.data_root`."""
    return Path(root).expanduser() / "omniglot" if root is not None else data_root() / "omniglot"


def _candidates(base: Path, source: str) -> list[Path]:
    # torchvision's downloader extracts into <root>/omniglot-py/
    return [base / source, base / f"{source}.zip", base / "omniglot-py" / source, base / "omniglot-py" / f"{source}.zip"]


def find_source(source: str, root: str | Path | None = None) -> Path | None:
    """The folder or zip holding ``source`` (``images_background`` / ``images_evaluation``), or ``None``."""
    return next((p for p in _candidates(omniglot_dir(root), source) if p.exists()), None)


def download_omniglot(root: str | Path | None = None) -> Path:
    """Download both official zips with torchvision (checked against the official md5) into
    ``<root>/omniglot/omniglot-py``. Needs network access; never called by tests or notebooks."""
    from torchvision.datasets import Omniglot as TorchvisionOmniglot

    base = omniglot_dir(root)
    for background in (True, False):
        TorchvisionOmniglot(str(base), background=background, download=True)
    return base


def _png_files(path: Path) -> Iterator[tuple[str, str, bytes]]:
    """(alphabet, character, png bytes) for every drawing, in sorted path order."""
    if path.is_dir():
        for png in sorted(path.glob("*/character*/*.png")):
            yield png.parent.parent.name, png.parent.name, png.read_bytes()
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                m = _PNG.search(name)
                if m:
                    yield m.group(1), m.group(2), zf.read(name)
    except (zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path} is not a readable zip ({err}); delete it and fetch it again. {HOW_TO_GET}") from err


def decode_source(path: Path, image_size: int) -> dict:
    """Decode every PNG under ``path`` into ``images`` uint8 ``(N, 1, S, S)`` (strokes bright, background 0),
    ``labels`` ``(N,)``, ``characters`` (``Alphabet/characterNN`` per class)."""
    images, labels, characters = [], [], []
    index: dict[tuple[str, str], int] = {}
    for alphabet, character, data in _png_files(path):
        key = (alphabet, character)
        if key not in index:
            index[key] = len(characters)
            characters.append(f"{alphabet}/{character}")
        with Image.open(io.BytesIO(data)) as im:
            small = im.convert("L").resize((image_size, image_size), Image.Resampling.LANCZOS)
        images.append(255 - np.asarray(small, dtype=np.uint8))
        labels.append(index[key])
    if not images:
        raise ValueError(f"no Omniglot PNGs found in {path}. {HOW_TO_GET}")
    return {
        "images": torch.from_numpy(np.stack(images))[:, None].contiguous(),
        "labels": torch.tensor(labels, dtype=torch.long),
        "characters": characters,
    }


def _cache_file(path: Path, image_size: int) -> Path:
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{image_size}|{_CACHE_VERSION}"
    digest = hashlib.sha1(ident.encode()).hexdigest()[:12]
    return cache_dir() / f"omniglot-{path.name.split('.')[0]}-{image_size}px-{digest}.pt"


def load_source(source: str, root: str | Path | None = None, image_size: int = 28, download: bool = False) -> dict:
    """Decoded ``source`` (see :func:`decode_source`), from the tensor cache when present."""
    path = find_source(source, root)
    if path is None and download:
        download_omniglot(root)
        path = find_source(source, root)
    if path is None:
        looked = ", ".join(str(p) for p in _candidates(omniglot_dir(root), source))
        raise FileNotFoundError(f"Omniglot {source} not found; looked for {looked}. {HOW_TO_GET}")
    cache = _cache_file(path, image_size)
    if cache.exists():
        return torch.load(cache, weights_only=True)
    decoded = decode_source(path, image_size)
    atomic_torch_save(decoded, cache)
    return decoded


def rotate_classes(images: torch.Tensor, labels: torch.Tensor, names: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Each class becomes four: the drawings rotated by 0, 90, 180 and 270 degrees (Santoro et al., 2016).
    Class ``c`` rotated by ``r * 90`` degrees gets id ``4 * c + r``."""
    rotated = torch.cat([torch.rot90(images, r, dims=(2, 3)) for r in range(4)])
    new_labels = torch.cat([4 * labels + r for r in range(4)])
    new_names = [f"{n}@{90 * r}" for n in names for r in range(4)]
    return rotated, new_labels, new_names


class Omniglot(FewShotDataset):
    """An alphabet-disjoint Omniglot split as a :class:`FewShotDataset`.

    Args:
        split: ``train`` (background alphabets minus :data:`VAL_ALPHABETS`), ``val`` (those five),
            ``test`` (the 20 evaluation alphabets), or ``background`` / ``evaluation`` whole.
        root: data root holding ``omniglot/``; default :func:`~metalearn_lib.config.data_root`.
        image_size: side of the square images (28 as in Vinyals et al. 2016 and Finn et al. 2017).
        rotations: add 90/180/270-degree rotations of every character as new classes.
        download: fetch the official zips with torchvision when nothing is found locally.
    """

    def __init__(
        self,
        split: str = "train",
        root: str | Path | None = None,
        *,
        image_size: int = 28,
        rotations: bool = False,
        download: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown Omniglot split {split!r}; choose one of {sorted(SPLITS)}")
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        source, which = SPLITS[split]
        data = load_source(source, root, image_size, download)
        alphabets = [c.split("/")[0] for c in data["characters"]]
        keep = [
            i
            for i, a in enumerate(alphabets)
            if which == "all" or (a in VAL_ALPHABETS) == (which == "val")
        ]
        base = FewShotDataset(data["images"], data["labels"], data["characters"]).subset(keep)
        images, labels, names = base.images, base.labels, list(base.class_names)
        if rotations:
            images, labels, names = rotate_classes(images, labels, names)
        super().__init__(images, labels, names, name=f"omniglot-{split}{'-rot' if rotations else ''}")
        self.split = split
        self.alphabets = sorted({n.split("/")[0] for n in names})
