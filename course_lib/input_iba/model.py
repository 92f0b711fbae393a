"""The 4-conv CNN that the attribution methods explain, its training on cluttered digits, and its cache.

:class:`DigitCNN` is an ``nn.Sequential`` with named layers (``conv1 relu1 conv2 relu2 pool1 conv3 relu3 pool2
conv4 relu4 gap flatten fc``): 16-32 channels at 32×32 → pool → 64 at 16×16 → pool → 64 at 8×8, global average
pooling, a linear classifier. The IBA bottleneck sits after ``pool1`` (32×16×16); Grad-CAM reads ``relu4``.

:func:`load_cnn` returns the trained weights cached in ``data/input_iba/cnn.pt`` (no training at notebook time;
if the file is missing it trains on the spot and says so). Regenerate the cache with one command::

    python -m course_lib.input_iba.model --retrain
"""
from __future__ import annotations

import argparse
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.artifacts import artifact_dir, save_torch
from course_lib.device import resolve_device
from course_lib.input_iba.data import cluttered_digits

DATA_DIR = artifact_dir("input_iba")
CACHE = DATA_DIR / "cnn.pt"
#: The bottleneck layer of the course (32×16×16) and the last conv activation (Grad-CAM).
BOTTLENECK_LAYER, GRADCAM_LAYER = "pool1", "relu4"
#: The accuracy the cached model must reach before any attribution is computed.
MIN_TEST_ACCURACY = 0.90


@dataclass(frozen=True)
class TrainConfig:
    """How the cached CNN is trained: ``epochs`` passes over ``n_train`` fresh canvases (a new seeded draw every
    epoch: positions, clutter and noise change, the digit pool does not), Adam ``lr``, ``batch_size``; tested on
    ``n_test`` canvases of the held-out digit pool (``test_seed``)."""

    n_train: int = 5000
    n_test: int = 400
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    clutter: int = 3
    noise: float = 0.3
    seed: int = 0
    test_seed: int = 10_000


class DigitCNN(nn.Sequential):
    """Four 3×3 convolutions (16, 32, pool, 64, pool, 64), global average pooling and a linear layer to 10 logits.
    Input (N, 1, H, W) normalised canvases (any H, W divisible by 4)."""

    def __init__(self, channels: tuple[int, int, int, int] = (16, 32, 64, 64), classes: int = 10):
        c1, c2, c3, c4 = channels
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, c1, 3, padding=1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(c1, c2, 3, padding=1)), ("relu2", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
            ("conv4", nn.Conv2d(c3, c4, 3, padding=1)), ("relu4", nn.ReLU()),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(c4, classes)),
        ]))


def make_cnn(seed: int = 0) -> DigitCNN:
    """A freshly initialised :class:`DigitCNN` (seeded)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DigitCNN()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Share of ``images`` whose arg-max logit equals ``labels`` (the model's device is used)."""
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = model(images[i:i + batch_size].to(device))
        correct += (logits.argmax(1).cpu() == labels[i:i + batch_size]).sum().item()
    return correct / len(images)


def train_cnn(config: TrainConfig = TrainConfig(), *, device=None, progress: bool = True, amp: bool | str = False):
    """Train :class:`DigitCNN` with the course's one loop (:func:`course_lib.train.fit`, cross-entropy, Adam).

    Returns ``(model, history, test_accuracy)``; the model is in eval mode on ``device``. ``amp`` as in
    :func:`course_lib.train.fit`.
    """
    from course_lib.train import fit

    device = resolve_device(device)
    model = make_cnn(config.seed)
    test = cluttered_digits(config.n_test, clutter=config.clutter, noise=config.noise, split="test",
                            seed=config.test_seed)

    def epoch_batches(epoch: int):
        data = cluttered_digits(config.n_train, clutter=config.clutter, noise=config.noise, split="train",
                                seed=config.seed * 1000 + epoch)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.seed + epoch))
        x, y = data.images[order], data.labels[order]
        return [(x[i:i + config.batch_size], y[i:i + config.batch_size]) for i in range(0, len(x), config.batch_size)]

    def loss_fn(net, batch):
        x, y = batch
        return F.cross_entropy(net(x), y)

    def val_fn(net):
        return {"test_acc": accuracy(net, test.images, test.labels)}

    history = fit(model, torch.optim.Adam(model.parameters(), lr=config.lr), loss_fn, epoch_batches,
                  epochs=config.epochs, val_fn=val_fn, device=device, progress=progress, desc="DigitCNN", amp=amp,
                  seed=config.seed)
    model.eval()
    return model, history, accuracy(model, test.images, test.labels)


def retrain(config: TrainConfig = TrainConfig(), *, device=None, progress: bool = True) -> Path:
    """Train the CNN and write ``data/input_iba/cnn.pt`` (weights, training config, test accuracy, history).
    Refuses to write a model below :data:`MIN_TEST_ACCURACY`."""
    model, history, acc = train_cnn(config, device=device, progress=progress)
    if acc < MIN_TEST_ACCURACY:
        raise RuntimeError(f"the CNN reached test accuracy {acc:.3f} < {MIN_TEST_ACCURACY}; lower the clutter or "
                           "train longer (TrainConfig) — not caching a weak model")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch(CACHE, {"state": state, "config": asdict(config), "test_accuracy": acc,
                       "history": {k: [float(v) for v in history[k]] for k in history.columns}})
    return CACHE


def cached_info() -> dict:
    """The cache's training config, test accuracy and history (without the weights)."""
    payload = torch.load(CACHE, map_location="cpu", weights_only=True)
    return {k: v for k, v in payload.items() if k != "state"}


def load_cnn(device=None) -> DigitCNN:
    """The trained CNN from ``data/input_iba/cnn.pt`` in eval mode on ``device`` (default ``COURSE_DEVICE``), its
    parameters frozen (``requires_grad=False``). If the cache is missing it is trained now (minutes) and said so."""
    device = resolve_device(device)
    if not CACHE.exists():
        print(f"[input_iba] {CACHE} not found: training the CNN now (a few minutes on one core).")
        retrain(device=device, progress=True)
    payload = torch.load(CACHE, map_location="cpu", weights_only=True)
    model = DigitCNN()
    model.load_state_dict(payload["state"])
    model.requires_grad_(False)
    return model.to(device).eval()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The cached cluttered-digits CNN of the InputIBA series.")
    parser.add_argument("--retrain", action="store_true", help="train and rewrite data/input_iba/cnn.pt")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.retrain:
        path = retrain(TrainConfig(epochs=args.epochs), device=args.device)
        print(f"wrote {path}")
    info = cached_info()
    print(f"test accuracy {info['test_accuracy']:.3f} with {info['config']}")


if __name__ == "__main__":
    main()
