"""The series' three offline data sets as tensors, with where each comes from.

* scikit-learn **digits** (1,797 scans of 8×8 handwritten digits, bundled with scikit-learn; UCI origin): split
  stratified 75 / 25 with ``random_state=0``; pixels scaled to [0, 1]. Not a course-registry dataset, so claims on
  it record a ``bundled(...)`` (digits) or ``generated(...)`` (MNIST-1D) source that names it.
* **MNIST-1D** (Greydanus 2020, ``mnist1d`` package): 5,000 length-40 signals generated procedurally *offline* by
  ``mnist1d.data.make_dataset`` (4,000 / 1,000 split); cached in the course data cache after the first ~10 s.
* **MNIST t10k** (LeCun et al. 1998) from the sha256-checked registry (``mnist-t10k``): the 10,000 test images,
  split 8,000 / 2,000 (seeded) because the 60k training set is not in the mirror. Raises
  :class:`course_lib.data.DataUnavailable` when the files cannot be found.
"""
from __future__ import annotations

import dataclasses
import gzip
from functools import lru_cache

import numpy as np
import torch

from course_lib.checks import as_int

NAMES = ("digits", "mnist1d", "mnist")
REGISTRY = {"mnist": "mnist-t10k"}   # data set -> course registry name (None: not in the registry)


@dataclasses.dataclass(frozen=True)
class Split:
    """Train / test tensors of one data set: ``x`` float32 with a channel axis, ``y`` int64 labels."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    description: str

    @property
    def registry_name(self) -> str | None:
        """The course registry name the data came from, or None (bundled / generated data)."""
        return REGISTRY.get(self.name)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> Split:
        return dataclasses.replace(self, **{f: getattr(self, f).to(device)
                                            for f in ("x_train", "y_train", "x_test", "y_test")})

    def example(self) -> torch.Tensor:
        """A batch of one test input (for MACs and latency)."""
        return self.x_test[:1]


def _tensors(x, y):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.int64)


@lru_cache(maxsize=2)
def load_digits(test_size: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn digits as ``(N, 1, 8, 8)`` in [0, 1], stratified split (``train_test_split(..., stratify=y)``)."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    d = sk_digits()
    x = d.images[:, None].astype(np.float32) / 16.0
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_size, random_state=as_int("seed", seed),
                                          stratify=d.target)
    return Split("digits", *_tensors(xtr, ytr), *_tensors(xte, yte),
                 description=f"scikit-learn digits, {len(ytr)} train / {len(yte)} test (stratified, seed {seed})")


@lru_cache(maxsize=1)
def load_mnist1d() -> Split:
    """MNIST-1D generated offline with the package's default arguments (seed 42): ``(N, 1, 40)``, 4,000 / 1,000.
    The generated arrays are cached in the course data cache (``mnist1d/mnist1d_default.npz``)."""
    from course_lib.data import cache_dir

    path = cache_dir() / "mnist1d" / "mnist1d_default.npz"
    if path.is_file():
        d = dict(np.load(path))
    else:
        from mnist1d.data import get_dataset_args, make_dataset  # generates; never downloads

        raw = make_dataset(get_dataset_args())
        d = {k: np.asarray(raw[k]) for k in ("x", "y", "x_test", "y_test")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **d)
        tmp.replace(path)
    return Split("mnist1d", *_tensors(d["x"][:, None], d["y"]), *_tensors(d["x_test"][:, None], d["y_test"]),
                 description="MNIST-1D (mnist1d generator, default arguments), 4,000 train / 1,000 test")


@lru_cache(maxsize=4)
def _idx(path: str) -> np.ndarray:
    """The array of one IDX file (cached by path: the registry is asked for the file on every load, so a missing
    data set is seen even after an earlier load in the same process)."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(n_train: int = 8000, seed: int = 0) -> Split:
    """MNIST t10k from the registry as ``(N, 1, 28, 28)`` in [0, 1], split ``n_train`` / rest with a seeded
    permutation. Raises ``DataUnavailable`` (with how to get the files) when the registry cannot provide them."""
    from course_lib.data import fetch_file

    n_train = as_int("n_train", n_train, minimum=1)
    if n_train >= 10_000:
        raise ValueError(f"n_train must leave test images out of the 10,000, got {n_train}")
    images = _idx(str(fetch_file("mnist-t10k", "t10k-images-idx3-ubyte.gz"))).astype(np.float32)[:, None] / 255.0
    labels = _idx(str(fetch_file("mnist-t10k", "t10k-labels-idx1-ubyte.gz"))).astype(np.int64)
    order = np.random.default_rng(as_int("seed", seed)).permutation(len(labels))
    tr, te = order[:n_train], order[n_train:]
    return Split("mnist", *_tensors(images[tr], labels[tr]), *_tensors(images[te], labels[te]),
                 description=f"MNIST t10k (registry mnist-t10k), {n_train} train / {len(te)} test (seed {seed})")


def load(name: str) -> Split:
    """One of :data:`NAMES` by name."""
    loaders = {"digits": load_digits, "mnist1d": load_mnist1d, "mnist": load_mnist}
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; expected one of {NAMES}")
    return loaders[name]()


BUNDLED = {"digits": "scikit-learn"}   # real data sets shipped inside a package -> the package


def provenance(split: Split):
    """The claims-ledger source of results measured on ``split``: ``dataset("mnist-t10k")`` for the registry data,
    ``bundled(...)`` for scikit-learn's digits (real data shipped in the package), ``generated(...)`` for MNIST-1D."""
    from course_lib.claims import bundled, dataset, generated

    if split.registry_name:
        return dataset(split.registry_name)
    if split.name in BUNDLED:
        return bundled(split.description, BUNDLED[split.name])
    return generated(split.description)
