"""The series' small models, their training through the one loop (``course_lib.train``), and cached baselines.

Every model is an ``nn.Sequential`` of Conv / Linear / ReLU / MaxPool / Flatten, so the quantisation and pruning
code can walk it layer by layer (fuse Conv+ReLU, rebuild a layer with fewer channels). Builders:

==================  ==========================================================  ===========  ==============
name                layers                                                      params       MACs / sample
==================  ==========================================================  ===========  ==============
``digits_cnn``      conv 1→16 3×3, conv 16→32 3×3, pool 2, fc 512→64, fc 64→10   38,282       337,536
``digits_mlp``      fc 64→16, fc 16→10 (the small KD student)                   1,210        1,184
``mnist1d_cnn``     conv1d 1→16→16→16 (k 5, 5, 3) with pools, fc 80→32→10         5,098        see cost.mac_table
``mnist1d_mlp``     fc 40→100→100→10                                            15,210       15,000
``mnist_cnn``       conv 1→16, 16→32 3×3 with pools, fc 1568→64→10               105,866      see cost.mac_table
==================  ==========================================================  ===========  ==============

Baselines (``BASELINES``) are trained once per seed and cached in ``data/low_power/`` (regenerate with
``python -m course_lib.low_power.models``); notebooks load them with :func:`baseline`.
"""
from __future__ import annotations

import argparse
import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.artifacts import artifact_dir, read_json, save_torch, write_json
from course_lib.checks import as_int
from course_lib.device import resolve_device
from course_lib.low_power.data import Split, load

PKG = "low_power"


def digits_cnn() -> nn.Sequential:
    """Two 3×3 convolutions and two linear layers for 8×8 digits (38,282 parameters)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 10))


def digits_mlp(hidden: int = 16) -> nn.Sequential:
    """A one-hidden-layer MLP on flattened 8×8 digits (1,210 parameters at ``hidden=16``)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, as_int("hidden", hidden, minimum=1)), nn.ReLU(),
                         nn.Linear(hidden, 10))


def mnist1d_cnn() -> nn.Sequential:
    """A 1-D CNN for MNIST-1D signals of length 40 (5,098 parameters)."""
    return nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Linear(80, 32), nn.ReLU(), nn.Linear(32, 10))


def mnist1d_mlp(hidden: int = 100) -> nn.Sequential:
    """An MLP 40 → hidden → hidden → 10 for MNIST-1D."""
    hidden = as_int("hidden", hidden, minimum=1)
    return nn.Sequential(nn.Flatten(), nn.Linear(40, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def mnist_cnn() -> nn.Sequential:
    """Two 3×3 convolutions with pooling and two linear layers for 28×28 MNIST (105,866 parameters)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1568, 64), nn.ReLU(), nn.Linear(64, 10))


BUILDERS = {"digits_cnn": digits_cnn, "digits_mlp": digits_mlp, "mnist1d_cnn": mnist1d_cnn,
            "mnist1d_mlp": mnist1d_mlp, "mnist_cnn": mnist_cnn}
DATASET_OF = {"digits_cnn": "digits", "digits_mlp": "digits", "mnist1d_cnn": "mnist1d", "mnist1d_mlp": "mnist1d",
              "mnist_cnn": "mnist"}


def build(name: str, seed: int | None = None) -> nn.Sequential:
    """A freshly initialised model by name (seeded with ``seed`` when given)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(BUILDERS)}")
    if seed is not None:
        torch.manual_seed(as_int("seed", seed, minimum=0))
    return BUILDERS[name]()


# ------------------------------------------------------------------------------------------------ training
@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> float:
    """Top-1 accuracy in percent (eval mode; a quantized output is dequantised)."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)} and {len(y)}")
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        out = out.dequantize() if getattr(out, "is_quantized", False) else out
        correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was)
    return 100.0 * correct / len(x)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
    """``epoch -> list of (x, y) batches``: a fresh permutation per epoch derived from ``seed`` and the epoch (so a
    resumed run sees the same batches); tensors stay where they are (no DataLoader overhead for tiny data)."""
    batch_size = as_int("batch_size", batch_size, minimum=1)

    def make(epoch: int):
        g = torch.Generator().manual_seed(1_000_003 * seed + epoch)
        order = torch.randperm(len(x), generator=g).to(x.device)
        return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(x), batch_size)]
    return make


def ce_loss(model: nn.Module, batch) -> torch.Tensor:
    """Cross-entropy of one ``(x, y)`` batch."""
    x, y = batch
    return F.cross_entropy(model(x), y)


def train(model: nn.Module, split: Split, *, epochs: int, lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
          loss_fn=ce_loss, device=None, callbacks=(), progress: bool = False, desc: str = "train"):
    """Adam on ``split``'s training set for ``epochs`` epochs through :func:`course_lib.train.fit`; returns the
    history (one row per epoch, with ``test_acc``). ``loss_fn(model, batch)`` may be replaced (QAT, KD, ...);
    ``callbacks`` run after each step (e.g. pruning masks)."""
    from course_lib.train import fit

    epochs = as_int("epochs", epochs, minimum=1)
    device = resolve_device(device)
    model.to(device)
    data = split.to(device)
    torch.manual_seed(as_int("seed", seed, minimum=0))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    return fit(model, opt, loss_fn, batches(data.x_train, data.y_train, batch_size, seed), epochs=epochs,
               val_fn=lambda m: {"test_acc": accuracy(m, data.x_test, data.y_test)}, device=device,
               progress=progress, desc=desc, callbacks=callbacks, seed=seed)


# ---------------------------------------------------------------------------------------- cached baselines
# (committed: seeds 0-2 of every model except mnist_cnn, seed 0 only — 420 kB each)
@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a cached baseline is trained."""

    model: str
    epochs: int
    lr: float = 3e-3
    batch_size: int = 64


BASELINES = {
    "digits_cnn": Recipe("digits_cnn", epochs=30),
    "digits_mlp": Recipe("digits_mlp", epochs=60),
    "mnist1d_cnn": Recipe("mnist1d_cnn", epochs=60, lr=3e-3, batch_size=100),
    "mnist1d_mlp": Recipe("mnist1d_mlp", epochs=60, lr=1e-3, batch_size=100),
    "mnist_cnn": Recipe("mnist_cnn", epochs=8, lr=2e-3, batch_size=64),
}
SEEDS = (0, 1, 2)


def _path(name: str, seed: int):
    return artifact_dir(PKG) / f"{name}_seed{seed}.pt"


def baseline(name: str, seed: int = 0, *, device=None, train_if_missing: bool = True) -> nn.Sequential:
    """The trained baseline ``name`` (a key of :data:`BASELINES`) for ``seed``, from ``data/low_power/`` when cached,
    otherwise trained with its recipe (and cached). Returns the model in eval mode on ``device``."""
    if name not in BASELINES:
        raise ValueError(f"no baseline {name!r}; expected one of {sorted(BASELINES)}")
    seed = as_int("seed", seed, minimum=0)
    device = resolve_device(device)
    path = _path(name, seed)
    model = build(name, seed)
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["state"])
    elif not train_if_missing:
        raise FileNotFoundError(f"{path} is not cached; run python -m course_lib.low_power.models")
    else:
        train_baseline(name, seed, device=device)
        return baseline(name, seed, device=device, train_if_missing=False)
    return model.to(device).eval()


def train_baseline(name: str, seed: int = 0, *, device=None) -> dict:
    """Train baseline ``name`` with its :data:`BASELINES` recipe and write it (and its row in ``baselines.json``)."""
    recipe = BASELINES[name]
    split = load(DATASET_OF[name])
    model = build(name, seed)
    hist = train(model, split, epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size, seed=seed,
                 device=device, desc=f"{name} seed {seed}")
    model.cpu()
    acc = accuracy(model, split.x_test, split.y_test)
    save_torch(_path(name, seed), {"state": model.state_dict(), "recipe": dataclasses.asdict(recipe),
                                   "test_acc": acc})
    index_path = artifact_dir(PKG) / "baselines.json"
    index = read_json(index_path) if index_path.is_file() else {}
    index[f"{name}_seed{seed}"] = {"test_acc": acc, "seconds": float(hist["seconds"].sum()),
                                   "recipe": dataclasses.asdict(recipe), "data": split.description}
    write_json(index_path, dict(sorted(index.items())))
    return index[f"{name}_seed{seed}"]


def main(argv=None) -> int:
    """Regenerate the cached baselines: ``python -m course_lib.low_power.models [--only NAME ...]``."""
    from course_lib.repro import set_threads

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--only", nargs="*", default=sorted(BASELINES))
    ap.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS))
    args = ap.parse_args(argv)
    set_threads()
    for name in args.only:
        for seed in args.seeds:
            print(name, seed, train_baseline(name, seed, device="cpu"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
