"""One training loop for every paper, on any device and on many GPUs.

Four small pieces, each usable alone:

* :class:`Loop` holds one model, one optimiser and a *step function* ``loss_fn(model, batch)`` that returns the
  scalar loss (or a dict with ``"loss"`` and more metrics). :meth:`Loop.step` is one optimisation step: autocast
  (``amp="bf16"`` / ``"fp16"``), backward through a GradScaler, gradient clipping, optimiser step.
  :meth:`Loop.run` repeats it in *rounds*: ``epochs=N`` (one round = one pass over the data) or ``steps=N`` with
  ``eval_every=E`` (one round = E batches from a sampler or episode generator). After each round: the mean of the
  step metrics (summed on the device, one host sync per round), the ``evaluate(model)`` hook, the callbacks, an
  atomic checkpoint. ``resume=True`` continues from it (optimiser, scheduler, GradScaler, RNG, callbacks).
* a *source* of batches: for ``epochs`` a re-iterable (DataLoader, list) or ``epoch -> iterable``; for ``steps`` an
  iterator, a re-iterable (cycled) or ``step -> batch``. :func:`loader` turns a Dataset into an epoch source.
* :class:`Callback` hooks (``on_step_end``, ``on_round_end``, ``on_fit_end``; set ``loop.stop = True`` to stop),
  with their state in the checkpoint. :class:`EarlyStopping` (best weights restored) and :class:`StepLosses`
  (per-step losses) are the two that ship here.
* :func:`fit` is the one-call form for epoch-based training.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the same code runs DistributedDataParallel: gloo on CPU, nccl on CUDA with
each rank bound to ``cuda:LOCAL_RANK``. **Sharding rule:** every rank must see different batches and the same
number of them. Datasets (through :func:`loader`) get a ``DistributedSampler``; a DataLoader must already have one;
any other source is refused with a clear error unless wrapped: :func:`shard` (rank r keeps batches r, r + W, ... of
a source that is the same on every rank) or :func:`per_rank` (the author declares that the source already draws
rank-specific batches, e.g. from a generator seeded with :func:`rank_seed`). ``Loop(seed=s)`` seeds python, numpy
and torch with ``rank_seed(s)``; initial weights are broadcast from rank 0 by DDP. Only rank 0 evaluates (the
metrics are broadcast), shows progress and writes checkpoints.
"""
from __future__ import annotations

import itertools
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from course_lib.device import get_device

#: The non-finite-loss check (one host sync) runs at the end of each round and every this many steps.
CHECK_EVERY = 100


# ----------------------------------------------------------------------------------------------- distributed
def world_size() -> int:
    """Number of processes (torchrun's ``WORLD_SIZE``; 1 without torchrun)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def distributed() -> bool:
    """True when launched by torchrun with more than one process."""
    return world_size() > 1


def rank() -> int:
    """Global rank of this process (``RANK``, also before the process group exists; 0 without torchrun)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """Rank of this process on its machine (torchrun's ``LOCAL_RANK``; 0 without torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def rank_seed(seed: int) -> int:
    """A different seed on every rank: ``seed + 1_000_003 * rank()`` (``seed`` itself on rank 0)."""
    return int(seed) + 1_000_003 * rank()


def bind_device(device: torch.device | str | None = None) -> torch.device:
    """The device of this process: ``device`` (default :func:`~course_lib.device.get_device`); under torchrun on
    CUDA this is ``cuda:LOCAL_RANK``, made current with ``torch.cuda.set_device``."""
    device = torch.device(device) if device is not None else get_device(announce=False)
    if device.type == "cuda" and distributed():
        wanted = torch.device("cuda", local_rank())
        if device.index is not None and device.index != wanted.index:
            raise ValueError(f"under torchrun rank {rank()} owns {wanted} (LOCAL_RANK={local_rank()}), but "
                             f"device={device} was asked for; pass device='cuda' and let the loop bind it")
        device = wanted
        torch.cuda.set_device(device)
    return device


def init_distributed(device: torch.device) -> None:
    """Initialise the default process group from torchrun's environment (idempotent; no-op without torchrun)."""
    if distributed() and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


class per_rank:  # noqa: N801 - used like a function: per_rank(source)
    """Mark ``source`` as already drawing different batches on every rank (for the DDP sharding rule)."""

    def __init__(self, source):
        self.source = source


class shard(per_rank):  # noqa: N801
    """Rank r keeps batches r, r + W, r + 2W, ... of ``source`` (a re-iterable, an iterator or an
    ``epoch -> iterable`` callable that yields the same batches on every rank); a last incomplete group of W
    batches is dropped, so all ranks run the same number of steps. Without torchrun it passes everything."""


def _strided(batches: Iterable) -> Iterator:
    w, r, group = world_size(), rank(), []
    for batch in batches:
        group.append(batch)
        if len(group) == w:
            yield group[r]
            group = []


# ----------------------------------------------------------------------------------------------- helpers
def to_device(batch, device: torch.device):
    """Move tensors inside (nested) tuples, lists and dicts to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if hasattr(batch, "to") and not isinstance(batch, nn.Module):  # e.g. a dataclass batch with .to(device)
        return batch.to(device)
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


def rng_state() -> dict:
    """Python, numpy, torch CPU and (if initialised) CUDA generator states, in a ``weights_only``-loadable form."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (kind, keys.tolist(), pos, has_gauss, gauss),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (all devices) with ``seed`` (no determinism switches)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class EpochSource:
    """What :func:`loader` returns: ``epoch(e)`` gives the DataLoader of epoch ``e`` (works in both modes)."""

    def __init__(self, make: Callable[[int], Iterable]):
        self.epoch = make


def loader(dataset: Dataset, batch_size: int, *, shuffle: bool = True, collate_fn=None, seed: int = 0,
           drop_last: bool = False, **dataloader_kwargs) -> per_rank:
    """A DDP-aware source over ``dataset`` for :meth:`Loop.run` (epochs or steps): under torchrun a
    ``DistributedSampler`` (``set_epoch`` every epoch), else a shuffle seeded with ``seed + epoch`` (so resume is
    exact)."""
    if not isinstance(dataset, Dataset) or isinstance(dataset, Iterable):
        raise TypeError(f"loader() needs a map-style torch Dataset, got {type(dataset).__name__}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(dataset) == 0:
        raise ValueError("the training data is empty: got a Dataset of length 0, which gives no batches")

    def batches(epoch: int) -> DataLoader:
        sampler = None
        if distributed():
            sampler = DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=shuffle, seed=seed,
                                         drop_last=drop_last)
            sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                          collate_fn=collate_fn, drop_last=drop_last,
                          generator=torch.Generator().manual_seed(seed + epoch), **dataloader_kwargs)

    return per_rank(EpochSource(batches))


def _has_distributed_sampler(obj) -> bool:
    sampler = getattr(obj, "sampler", None)
    batch_sampler = getattr(obj, "batch_sampler", None)
    return isinstance(sampler, DistributedSampler) or isinstance(getattr(batch_sampler, "sampler", None),
                                                                 DistributedSampler)


def _unwrap(source, what: str):
    """Check the DDP sharding rule and return the bare source."""
    if isinstance(source, per_rank):
        return source
    if isinstance(source, Dataset) and not isinstance(source, Iterable):
        raise TypeError(f"{what}: got a Dataset; wrap it with course_lib.train.loader(dataset, batch_size) "
                        "(or call fit(..., batch_size=...))")
    if distributed() and not (isinstance(source, DataLoader) and _has_distributed_sampler(source)):
        raise ValueError(
            f"{what}: under torchrun every rank must see different batches, but a {type(source).__name__} gives "
            "every rank the same ones. Use loader(dataset, ...) for a Dataset, a DataLoader with a "
            "DistributedSampler, shard(source) to split a source that is identical on every rank, or "
            "per_rank(source) for a sampler that already draws per-rank batches (seeded with rank_seed(seed)).")
    return source


_AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(amp: bool | str | None, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``amp``: False/None (off), ``"bf16"``, ``"fp16"`` (CUDA only, with a GradScaler) or
    True (CUDA: bf16 where the GPU supports it, else fp16; off on other devices)."""
    if amp is None or amp is False:
        return None
    if amp is True:
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp not in _AMP:
        raise ValueError(f"amp must be False, True, 'bf16' or 'fp16', got {amp!r}")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"amp='fp16' needs CUDA (float16 autocast with a GradScaler); on {device} use amp='bf16'")
    return _AMP[amp]


# ----------------------------------------------------------------------------------------------- callbacks
class Callback:
    """Base class of the loop's hooks; override what you need. State returned by :meth:`state_dict` (tensors,
    numbers, lists, dicts) is saved in checkpoints and given back to :meth:`load_state_dict` on resume."""

    def on_step_end(self, loop: Loop, step: int, metrics: dict[str, torch.Tensor]) -> None:
        """After every optimisation step; ``metrics`` are detached device tensors (no host sync unless you make
        one)."""

    def on_round_end(self, loop: Loop, row: dict) -> None:
        """After every round (epoch, or ``eval_every`` steps) with the history row (floats); may set
        ``loop.stop = True``."""

    def on_fit_end(self, loop: Loop) -> None:
        """Once at the end of :meth:`Loop.run` (also when a resumed run had already finished)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: Mapping) -> None:
        pass


class EarlyStopping(Callback):
    """Track ``monitor`` (a history column) with ``mode`` min/max; stop after ``patience`` rounds without
    improvement (never, if None); remember the best weights and restore them at the end if ``restore_best``."""

    def __init__(self, monitor: str, mode: str = "min", patience: int | None = None, restore_best: bool = True):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ValueError(f"patience must be a positive int or None, got {patience!r}")
        self.monitor, self.mode, self.patience, self.restore_best = monitor, mode, patience, restore_best
        self.best, self.stale, self.best_state = (math.inf if mode == "min" else -math.inf), 0, None

    def on_round_end(self, loop: Loop, row: dict) -> None:
        if self.monitor not in row:
            raise KeyError(f"monitor={self.monitor!r} is not among the recorded metrics {sorted(row)}")
        value = row[self.monitor]
        if value < self.best if self.mode == "min" else value > self.best:  # NaN never improves
            self.best, self.stale = value, 0
            self.best_state = {k: v.detach().clone() for k, v in loop.model.state_dict().items()}
        else:
            self.stale += 1
        if self.patience is not None and self.stale >= self.patience:
            loop.stop = True

    def on_fit_end(self, loop: Loop) -> None:
        if self.restore_best and self.best_state is not None:
            loop.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        return {"best": self.best, "stale": self.stale, "best_state": self.best_state}

    def load_state_dict(self, state: Mapping) -> None:
        self.best, self.stale, self.best_state = state["best"], state["stale"], state["best_state"]


class StepLosses(Callback):
    """Keep metric ``key`` of every ``every``-th step (and the last) on the device; :meth:`values` returns them
    as floats with one host sync. ``steps`` holds the matching global step indices."""

    def __init__(self, key: str = "loss", every: int = 1):
        self.key, self.every, self.steps, self._values = key, every, [], []

    def on_step_end(self, loop: Loop, step: int, metrics: dict[str, torch.Tensor]) -> None:
        if step % self.every == 0 or step == loop.total_steps - 1:
            self.steps.append(step)
            self._values.append(metrics[self.key])

    def values(self) -> list[float]:
        return torch.stack(self._values).float().cpu().tolist() if self._values else []

    def state_dict(self) -> dict:
        return {"steps": list(self.steps), "values": self.values()}

    def load_state_dict(self, state: Mapping) -> None:
        self.steps, self._values = list(state["steps"]), [torch.tensor(v) for v in state["values"]]


# ----------------------------------------------------------------------------------------------- the loop
def _as_metrics(out, *, needs_grad: bool) -> dict[str, torch.Tensor]:
    metrics = dict(out) if isinstance(out, Mapping) else {"loss": out}
    loss = metrics.get("loss")
    if not isinstance(loss, torch.Tensor):
        raise TypeError("the step function must return the loss as a tensor (or a dict with a 'loss' tensor), got "
                        f"{type(out).__name__ if 'loss' not in metrics else type(loss).__name__}")
    if loss.dim() != 0:
        raise ValueError(f"the loss must be a scalar, got shape {tuple(loss.shape)}; reduce it (e.g. .mean())")
    if needs_grad and not loss.requires_grad:
        raise ValueError("the loss does not require grad (computed under no_grad, detached, or no trainable "
                         "parameters); return the loss before .item()/.detach()")
    for k, v in metrics.items():
        if not isinstance(v, torch.Tensor):
            metrics[k] = torch.as_tensor(float(v), device=loss.device)
        elif v.dim() != 0:
            raise ValueError(f"metric {k!r} must be a scalar, got shape {tuple(v.shape)}")
    return metrics


class Loop:
    """One model trained with one optimiser and one step function; see the module docstring.

    ``loss_fn(model, batch)`` gets the batch already on the device and the (DDP-wrapped) model in train mode.
    ``optimizer=None`` means the step function optimises by itself (e.g. a GAN with two optimisers) and the loop
    only runs, logs and checkpoints it. ``scheduler`` is stepped after every round (step a per-step schedule in a
    callback's ``on_step_end``). ``extra_state``: more objects with ``state_dict`` to checkpoint (e.g. a second
    optimiser). ``seed``: seed python/numpy/torch with :func:`rank_seed` before training.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                 loss_fn: Callable[[nn.Module, object], torch.Tensor | Mapping[str, torch.Tensor]], *,
                 device: torch.device | str | None = None, amp: bool | str | None = False,
                 grad_clip: float | None = None, scheduler=None, callbacks: Sequence[Callback] = (),
                 extra_state: Mapping[str, object] | None = None, seed: int | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be positive, got {grad_clip}")
        self.device = bind_device(device)
        init_distributed(self.device)
        if seed is not None:
            seed_all(rank_seed(seed))
        self.model = model.to(self.device)
        self.net = model
        if distributed() and any(p.requires_grad for p in model.parameters()):
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.optimizer, self.loss_fn, self.grad_clip, self.scheduler = optimizer, loss_fn, grad_clip, scheduler
        self.amp_dtype = amp_dtype(amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        self.callbacks = list(callbacks)
        self.extra_state = dict(extra_state or {})
        self.history: list[dict] = []
        self.stop = False
        self.global_step = 0  # optimisation steps done in the current run (restored on resume)
        self.total_steps = 0  # steps of the current run in steps mode (0 in epochs mode), for callbacks

    # -- one step -------------------------------------------------------------------------------------------
    def step(self, batch) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``; returns the detached metrics (device tensors, no host sync)."""
        batch = to_device(batch, self.device)
        if self.amp_dtype is None:
            metrics = _as_metrics(self.loss_fn(self.net, batch), needs_grad=self.optimizer is not None)
        else:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                metrics = _as_metrics(self.loss_fn(self.net, batch), needs_grad=self.optimizer is not None)
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler.is_enabled():
                self.scaler.scale(metrics["loss"]).backward()
                if self.grad_clip is not None:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                metrics["loss"].backward()
                if self.grad_clip is not None:
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                self.optimizer.step()
        return {k: v.detach() for k, v in metrics.items()}

    # -- checkpoints ----------------------------------------------------------------------------------------
    def _stateful(self) -> dict:
        objs = {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "scaler": self.scaler, **self.extra_state}
        objs.update({f"callback{i}": cb for i, cb in enumerate(self.callbacks)})
        return {k: v for k, v in objs.items() if v is not None}

    def save(self, path: str | Path, unit: str, done: int) -> None:
        """Checkpoint everything needed to resume (called by :meth:`run`; rank 0 writes, all ranks' RNG kept)."""
        rngs = [rng_state()]
        if torch.distributed.is_initialized():
            rngs = [None] * world_size()
            torch.distributed.all_gather_object(rngs, rng_state())
        if rank() != 0:
            return
        cols = list(dict.fromkeys(c for row in self.history for c in row))
        save_checkpoint(path, {
            **{k: obj.state_dict() for k, obj in self._stateful().items()}, "unit": unit, "done": done,
            "global_step": self.global_step, "stopped": self.stop, "rng": rngs, "history_cols": cols,
            "history_rows": [[row.get(c, float("nan")) for c in cols] for row in self.history]})

    def load(self, path: str | Path, unit: str) -> int:
        """Restore a checkpoint written by :meth:`save`; return the number of rounds it had completed."""
        state = load_checkpoint(path, map_location=self.device)
        if state.get("unit") != unit:
            raise ValueError(f"checkpoint {path} was written by a {state.get('unit')}-based run, this run is "
                             f"{unit}-based; use another checkpoint path")
        for key, obj in self._stateful().items():
            if key not in state:
                raise KeyError(f"checkpoint {path} has no state for {key!r}")
            obj.load_state_dict(state[key])
        rngs = state["rng"]
        if len(rngs) == world_size():
            set_rng_state(rngs[rank()])
        self.history = [dict(zip(state["history_cols"], row)) for row in state["history_rows"]]
        self.stop, self.global_step = state["stopped"], state["global_step"]
        return state["done"]

    # -- the rounds -----------------------------------------------------------------------------------------
    def _reduce(self, sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
        keys = sorted(sums)
        packed = torch.stack([sums[k].float() for k in keys] + [torch.tensor(float(count), device=self.device)])
        if torch.distributed.is_initialized():  # every rank gets the same means, so stopping decisions agree
            torch.distributed.all_reduce(packed)
        values = packed.tolist()
        return {k: values[i] / values[-1] for i, k in enumerate(keys)}

    def _evaluate(self, evaluate) -> dict[str, float]:
        result = [None]
        if rank() == 0:
            self.model.eval()
            with torch.no_grad():
                result = [{k: float(v) for k, v in evaluate(self.model).items()}]
            self.model.train()
        if torch.distributed.is_initialized():
            torch.distributed.broadcast_object_list(result, src=0)
        return result[0]

    def run(self, source, *, epochs: int | None = None, steps: int | None = None, eval_every: int | None = None,
            evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None, checkpoint: str | Path | None = None,
            resume: bool = False, progress: bool = True, desc: str = "train") -> pd.DataFrame:
        """Train for ``epochs`` passes over ``source``, or for ``steps`` batches drawn from it with a round every
        ``eval_every`` steps (default: one round). Returns the history, one row per round: ``epoch`` (index) or
        ``step`` (steps done), ``train_<metric>`` means, ``seconds``, then what ``evaluate(model)`` returned
        (called in eval mode without gradients). ``checkpoint`` is written atomically after each round;
        ``resume=True`` continues from it, and a run that had finished or stopped early trains no further. For an
        exact resume in steps mode, draw batches as ``step -> batch`` or from the global RNG (restored); an
        iterator source starts again from its beginning."""
        if (epochs is None) == (steps is None):
            raise ValueError("give exactly one of epochs= (passes over the data) or steps= (batches from a sampler)")
        total = epochs if steps is None else steps
        if not isinstance(total, int) or total < 1:
            raise ValueError(f"{'epochs' if steps is None else 'steps'} must be a positive int, got {total!r}")
        if eval_every is not None and (steps is None or not isinstance(eval_every, int) or eval_every < 1):
            raise ValueError("eval_every= is a positive number of steps and goes with steps=")
        unit = "epoch" if steps is None else "step"
        source = _unwrap(source, "Loop.run")
        period = 1 if steps is None else (eval_every or steps)
        rounds = math.ceil(total / period)
        self.total_steps = total if steps is not None else 0
        self.history, self.stop, self.global_step, done = [], False, 0, 0
        if resume and checkpoint is not None and Path(checkpoint).exists():
            done = self.load(checkpoint, unit)
        stream = self._stream(source) if steps is not None else None
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(total, done * period), desc=desc, leave=False,
                   disable=not (progress and rank() == 0))
        self.net.train()
        for r in range(done, done if self.stop else rounds):
            t0 = time.perf_counter()
            if steps is None:
                sums, count = self._train_round(self._epoch(source, r), unit, r, None)
            else:
                want = min(period, total - r * period)
                sums, count = self._train_round(itertools.islice(stream, want), unit, r, bar)
                if count < want:
                    raise ValueError(f"the batch source stopped after {self.global_step} of {total} steps; give an "
                                     "endless sampler (step -> batch, an infinite iterator) or a re-iterable")
            if self.scheduler is not None:
                self.scheduler.step()
            row = {unit: r if steps is None else self.global_step,
                   **{f"train_{k}": v for k, v in self._reduce(sums, count).items()},
                   "seconds": time.perf_counter() - t0}
            if evaluate is not None:
                row.update(self._evaluate(evaluate))
            self.history.append(row)
            for cb in self.callbacks:
                cb.on_round_end(self, row)
            if steps is None:
                bar.update()
            if not bar.disable:
                bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in (unit, "seconds")}, refresh=False)
            if checkpoint is not None:
                self.save(checkpoint, unit, r + 1)
            if self.stop:
                break
        bar.close()
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return pd.DataFrame(self.history)

    @staticmethod
    def _epoch(source, epoch: int) -> Iterable:
        """The batches of one epoch: ``source(epoch)`` or ``source`` itself (``set_epoch`` on its sampler)."""
        if isinstance(source, per_rank):
            inner = Loop._epoch(source.source, epoch)
            return _strided(inner) if isinstance(source, shard) else inner
        if isinstance(source, EpochSource):
            return source.epoch(epoch)
        if callable(source):
            return source(epoch)
        if hasattr(getattr(source, "sampler", None), "set_epoch"):
            source.sampler.set_epoch(epoch)
        return source

    def _stream(self, source) -> Iterator:
        """The endless batch stream of steps mode from ``self.global_step``: ``step -> batch``, an iterator, or a
        re-iterable (cycled, ``set_epoch`` on its sampler at every pass)."""
        if isinstance(source, per_rank):
            inner = self._stream(source.source)
            yield from _strided(inner) if isinstance(source, shard) else inner
            return
        if callable(source):
            step = self.global_step
            while True:
                yield source(step)
                step += 1
        if isinstance(source, Iterator):
            yield from source
            return
        for epoch in itertools.count():
            empty = True
            for batch in self._epoch(source, epoch):
                empty = False
                yield batch
            if empty:
                return

    def _train_round(self, batches: Iterable, unit: str, r: int, bar) -> tuple[dict[str, torch.Tensor], int]:
        sums: dict[str, torch.Tensor] = {}
        count, checked = 0, self.global_step  # a non-finite loss makes the running sum non-finite: checked below
        for batch in batches:
            step = self.global_step
            metrics = self.step(batch)
            for k, v in metrics.items():
                sums[k] = sums[k] + v if k in sums else v.float()
            self.global_step += 1
            count += 1
            for cb in self.callbacks:
                cb.on_step_end(self, step, metrics)
            if bar is not None:
                bar.update()
            if count % CHECK_EVERY == 0:
                self._check_finite(sums["loss"], checked, self.global_step, unit, r)
                checked = self.global_step
        if count == 0:
            raise ValueError(f"{unit} round {r} got no batches: the training data is empty (or drop_last dropped "
                             "every batch, or the sampler/iterator is exhausted)")
        self._check_finite(sums["loss"], checked, self.global_step, unit, r)
        return sums, count

    @staticmethod
    def _check_finite(total: torch.Tensor, first: int, end: int, unit: str, r: int) -> None:
        if not bool(torch.isfinite(total)):
            where = f"step {first}" if end - first == 1 else f"a step in {first}..{end - 1}"
            where += f" (epoch {r})" if unit == "epoch" else ""
            raise FloatingPointError(f"the training loss became NaN/inf at {where}; lower the learning rate, check "
                                     "the inputs for NaN/inf, or use amp='bf16' instead of 'fp16'")


# ----------------------------------------------------------------------------------------------- fit
def fit(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[nn.Module, object], torch.Tensor],
        train_data, *, epochs: int, batch_size: int | None = None,
        val_fn: Callable[[nn.Module], Mapping[str, float]] | None = None, monitor: str | None = None,
        mode: str = "min", patience: int | None = None, restore_best: bool = True,
        checkpoint: str | Path | None = None, resume: bool = False, amp: bool | str = False,
        device: torch.device | str | None = None, grad_clip: float | None = None, scheduler=None,
        progress: bool = True, desc: str = "train", collate_fn=None, shuffle: bool = True,
        callbacks: Sequence[Callback] = (), seed: int | None = None) -> pd.DataFrame:
    """Train ``model`` for ``epochs`` epochs and return the history (one row per epoch): :class:`Loop` in one call.

    ``train_data``: a Dataset (with ``batch_size``; sharded under torchrun), a DataLoader / list of batches, or an
    ``epoch -> batches`` callable. ``loss_fn(model, batch)`` returns the scalar loss of one batch (already on the
    device). ``val_fn(model)`` is called after every epoch in eval mode without gradients and returns metrics.
    ``monitor`` (a metric name or ``"train_loss"``; default ``"train_loss"`` when ``patience`` is set without
    ``val_fn``) with ``mode`` min/max tracks the best epoch: training stops after ``patience`` epochs without
    improvement, and whenever ``monitor`` is set the best weights are restored at the end (``restore_best``).
    ``checkpoint`` is written atomically after every epoch; ``resume=True`` continues from it. ``amp``: False,
    ``"bf16"``, ``"fp16"`` (CUDA) or True (see :func:`amp_dtype`). ``history.attrs["best"]``: the best monitored
    value.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(train_data, Dataset) and not isinstance(train_data, Iterable):
        if batch_size is None:
            raise ValueError("fit() got a Dataset as train_data; pass batch_size= as well")
        train_data = loader(train_data, batch_size, shuffle=shuffle, collate_fn=collate_fn, seed=seed or 0)
    elif not (callable(train_data) or isinstance(train_data, (Iterable, per_rank))):
        raise TypeError("train_data must be a Dataset, a DataLoader/iterable of batches or a callable epoch -> "
                        f"batches; got {type(train_data).__name__}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if patience is not None and monitor is None:
        if val_fn is not None:
            raise ValueError("patience= needs monitor= naming one of val_fn's metrics (or 'train_loss')")
        monitor = "train_loss"
    stopper = EarlyStopping(monitor, mode, patience, restore_best) if monitor is not None else None
    loop = Loop(model, optimizer, loss_fn, device=device, amp=amp, grad_clip=grad_clip, scheduler=scheduler,
                callbacks=[*callbacks, *([stopper] if stopper else [])], seed=seed)
    frame = loop.run(train_data, epochs=epochs, evaluate=val_fn, checkpoint=checkpoint, resume=resume,
                     progress=progress, desc=desc)
    if stopper is not None:
        frame.attrs["best"] = stopper.best
    return frame
