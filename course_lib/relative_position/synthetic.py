"""Length generalisation on the synthetic tasks: a step-based training loop and position-wise evaluation.

Training runs on the shared loop (:class:`course_lib.train.Loop`) in steps mode: every step draws a fresh batch at
a random training length from a seeded sampler — there is no dataset or epoch.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import torch
import torch.nn.functional as F

from course_lib.device import clock, resolve_device
from course_lib.relative_position.tasks import get_task, make_batch
from course_lib.relative_position.transformer import SequenceTagger, TransformerConfig
from course_lib.train import Loop, StepLosses, per_rank, rank_seed

#: the four variants of the headline experiment: name -> (position scheme, clipping distance k)
VARIANTS = {
    "relative (k=8)": ("relative", 8),
    "absolute sinusoidal": ("sinusoidal", 8),
    "learned absolute": ("learned", 8),
    "k = 0 (no positions)": ("relative", 0),
}


def build_tagger(position: str = "relative", k: int = 8, *, task="offset", d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 1, max_len: int = 128, scale_embeddings: bool = False, seed: int = 0,
                 device=None, impl: str = "fused") -> SequenceTagger:
    """A seeded :class:`SequenceTagger` for ``task`` with the given position scheme."""
    t = get_task(task)
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=d_model, num_heads=num_heads, num_layers=num_layers, d_ff=4 * d_model,
                            position=position, max_relative_position=k, max_len=max_len,
                            scale_embeddings=scale_embeddings, impl=impl)
    return SequenceTagger(cfg, t.vocab, t.num_classes).to(resolve_device(device))  # None: COURSE_DEVICE


def train_tagger(model: SequenceTagger, task="offset", *, steps: int = 1500, batch_size: int = 64,
                 lr: float = 1e-3, min_len: int = 8, max_len: int = 20, seed: int = 0, progress: bool = False,
                 desc: str = "train") -> list[float]:
    """Adam on cross-entropy; each step draws a batch at a length uniform in [min_len, max_len]. Returns losses."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(rank_seed(seed))  # under torchrun every rank draws its own batches

    def sample(step: int):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=gen))
        return make_batch(task, batch_size, length, generator=gen, device=device)

    def step_loss(net, batch):
        x, y = batch
        return F.cross_entropy(net(x).flatten(0, 1), y.flatten())

    losses = StepLosses()
    Loop(model, torch.optim.Adam(model.parameters(), lr=lr), step_loss, device=device, callbacks=[losses]).run(
        per_rank(sample), steps=steps, progress=progress, desc=desc)
    model.eval()
    return losses.values()


@torch.no_grad()
def position_accuracy(model: SequenceTagger, task="offset", length: int = 40, *, num_sequences: int = 512,
                      seed: int = 1234, batch_size: int = 256) -> torch.Tensor:
    """Token accuracy at every position (length,) over ``num_sequences`` fresh sequences of ``length``."""
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    correct = torch.zeros(length)
    done = 0
    while done < num_sequences:
        nb = min(batch_size, num_sequences - done)
        x, y = make_batch(task, nb, length, generator=gen, device=device)
        correct += (model(x).argmax(-1) == y).float().sum(0).cpu()
        done += nb
    return correct / num_sequences


@dataclasses.dataclass
class LengthResult:
    """Accuracies of one trained model plus its loss curve."""

    name: str
    acc_train_length: float   # all positions of length-`train_max` sequences
    acc_test_all: float       # all positions of length-`test_length` sequences
    acc_unseen: float         # positions >= train_max of length-`test_length` sequences
    seconds: float
    losses: list[float]
    per_position: list[float]  # accuracy per position at the test length


def evaluate_length_split(model, task="offset", *, train_max: int = 20, test_length: int = 40,
                          num_sequences: int = 512) -> dict:
    """acc at the training length, at the test length, and on the unseen positions >= train_max."""
    at_train = position_accuracy(model, task, train_max, num_sequences=num_sequences)
    at_test = position_accuracy(model, task, test_length, num_sequences=num_sequences)
    return {"acc_train_length": float(at_train.mean()), "acc_test_all": float(at_test.mean()),
            "acc_unseen": float(at_test[train_max:].mean()), "per_position": at_test.tolist()}


def run_variant(name: str, position: str, k: int, *, task="offset", steps: int = 1500, seed: int = 0,
                num_layers: int = 1, scale_embeddings: bool = False, train_max: int = 20, test_length: int = 40,
                num_sequences: int = 512, device=None, progress: bool = False) -> LengthResult:
    """Build, train and evaluate one variant on the length split (train lengths 8..train_max)."""
    model = build_tagger(position, k, task=task, num_layers=num_layers, scale_embeddings=scale_embeddings,
                         seed=seed, device=device)
    t0 = clock(next(model.parameters()))  # synchronised: CUDA work is asynchronous
    losses = train_tagger(model, task, steps=steps, max_len=train_max, seed=seed, progress=progress, desc=name)
    seconds = clock(next(model.parameters())) - t0
    ev = evaluate_length_split(model, task, train_max=train_max, test_length=test_length,
                               num_sequences=num_sequences)
    return LengthResult(name, ev["acc_train_length"], ev["acc_test_all"], ev["acc_unseen"], seconds, losses,
                        ev["per_position"])


def results_frame(results: list[LengthResult]) -> pd.DataFrame:
    """One row per variant: the three accuracies and the training time."""
    return pd.DataFrame([{"variant": r.name, "acc @ train length": r.acc_train_length,
                          "acc @ test length (all)": r.acc_test_all, "acc on unseen positions": r.acc_unseen,
                          "train s": r.seconds} for r in results]).set_index("variant")
