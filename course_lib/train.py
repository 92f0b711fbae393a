"""One training loop for every paper: progress bars, a pandas history, early stopping, atomic checkpoints with
resume, optional mixed precision on CUDA, and DistributedDataParallel when launched with ``torchrun``.

The same script runs unchanged with ``python script.py`` and ``torchrun --nproc_per_node N script.py``
(gloo on CPU, nccl on CUDA); only rank 0 shows progress and writes checkpoints.
"""
from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from course_lib.device import get_device


def distributed() -> bool:
    """True when launched by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def init_distributed(device: torch.device) -> None:
    """Initialise the default process group from torchrun's environment (idempotent)."""
    if distributed() and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def to_device(batch, device: torch.device):
    """Move tensors inside (nested) tuples, lists and dicts to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` with torch.save to a temporary file, then rename it over ``path`` (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no pickled code)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def _batches(train_data, epoch: int, batch_size, collate_fn, shuffle: bool) -> Iterable:
    if isinstance(train_data, Dataset) and not isinstance(train_data, Iterable):
        if batch_size is None:
            raise ValueError("fit() got a Dataset as train_data; pass batch_size= as well")
        sampler = DistributedSampler(train_data, shuffle=shuffle, seed=0) if distributed() else None
        if sampler is not None:
            sampler.set_epoch(epoch)
        return DataLoader(train_data, batch_size=batch_size, shuffle=shuffle and sampler is None,
                          sampler=sampler, collate_fn=collate_fn,
                          generator=torch.Generator().manual_seed(epoch))
    if callable(train_data):
        return train_data(epoch)
    if isinstance(train_data, Iterable):
        return train_data
    raise TypeError("train_data must be a Dataset, a DataLoader/iterable of batches or a callable epoch -> batches;"
                    f" got {type(train_data).__name__}")


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[nn.Module, object], torch.Tensor],
        train_data, *, epochs: int, batch_size: int | None = None,
        val_fn: Callable[[nn.Module], Mapping[str, float]] | None = None, monitor: str | None = None,
        mode: str = "min", patience: int | None = None, checkpoint: str | Path | None = None,
        resume: bool = False, amp: bool = False, device: torch.device | str | None = None,
        grad_clip: float | None = None, scheduler=None, progress: bool = True, desc: str = "train",
        collate_fn=None, shuffle: bool = True) -> pd.DataFrame:
    """Train ``model`` for ``epochs`` epochs and return the history (one row per epoch).

    ``loss_fn(model, batch)`` returns the scalar loss of one batch (already on the device). ``val_fn(model)`` is
    called after every epoch in eval mode without gradients and returns metrics; ``monitor`` (a metric name or
    ``"train_loss"``) with ``mode`` min/max drives early stopping after ``patience`` epochs without improvement,
    and the best weights are restored at the end. ``checkpoint`` is written atomically after every epoch;
    ``resume=True`` continues from it. ``amp`` uses bfloat16/float16 autocast on CUDA only.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    device = torch.device(device) if device is not None else get_device(announce=False)
    init_distributed(device)
    model.to(device)
    net = model
    if distributed():
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    monitor = monitor or ("train_loss" if val_fn is None else None)
    history: list[dict] = []
    start_epoch, best, best_state, stale = 0, math.inf if mode == "min" else -math.inf, None, 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        history = [dict(zip(state["history_cols"], row)) for row in state["history_rows"]]
        start_epoch, best, stale = state["epoch"] + 1, state["best"], state["stale"]
        best_state = state.get("best_model")
    show = progress and rank() == 0
    from tqdm.auto import tqdm

    bar = tqdm(range(start_epoch, epochs), desc=desc, disable=not show, initial=start_epoch, total=epochs)
    for epoch in bar:
        net.train()
        t0, total, count = time.perf_counter(), 0.0, 0
        for batch in _batches(train_data, epoch, batch_size, collate_fn, shuffle):
            batch = to_device(batch, device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=use_amp):
                loss = loss_fn(net, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}; lower the learning rate")
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
            total += loss.item()
            count += 1
        if scheduler is not None:
            scheduler.step()
        if torch.distributed.is_initialized():  # every rank sees the same mean loss, so early stopping agrees
            sums = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
            torch.distributed.all_reduce(sums)
            total, count = sums[0].item(), int(sums[1].item())
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "seconds": time.perf_counter() - t0}
        if val_fn is not None:
            model.eval()
            with torch.no_grad():
                row.update({k: float(v) for k, v in val_fn(model).items()})
        history.append(row)
        if monitor is not None:
            if monitor not in row:
                raise KeyError(f"monitor={monitor!r} is not among the recorded metrics {sorted(row)}")
            value = row[monitor]
            improved = value < best if mode == "min" else value > best
            if improved:
                best, stale = value, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")})
        if checkpoint is not None and rank() == 0:
            cols = list(history[0])
            save_checkpoint(checkpoint, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "best": best,
                "stale": stale, "best_model": best_state, "history_cols": cols,
                "history_rows": [[r.get(c, float("nan")) for c in cols] for r in history],
                **({"scheduler": scheduler.state_dict()} if scheduler is not None else {})})
        if patience is not None and stale >= patience:
            break
    bar.close()
    if best_state is not None and monitor is not None and patience is not None:
        model.load_state_dict(best_state)
    frame = pd.DataFrame(history)
    frame.attrs["best"] = best
    return frame
