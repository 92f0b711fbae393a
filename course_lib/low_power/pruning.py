"""Pruning from scratch: magnitude masks (local / global), the gradual schedule, structured channel removal that
rebuilds smaller layers, CSR storage, and the peers (``torch.nn.utils.prune``, ``torch-pruning``).

Magnitude pruning (Han et al., NeurIPS 2015) zeroes the weights of smallest ``|w|`` and fine-tunes the rest with
the mask held fixed. A mask changes **non-zeros**, not shapes: the dense file is exactly as large as before, and
only a sparse format (CSR: values + column indices + row pointers) or structured removal makes it smaller.
Gradual pruning raises the sparsity along ``s_t = s_f + (s_i − s_f)(1 − (t − t_0)/(nΔt))³`` (Zhu & Gupta 2017,
Eq. 1). Structured pruning (Li et al., ICLR 2017) removes whole filters of smallest L1 norm and the matching input
channels of the next layer, so the rebuilt model is dense and smaller in parameters, MACs and latency.
"""
from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn

from course_lib.checks import as_int
from course_lib.train import Callback

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def check_sparsity(sparsity) -> float:
    """``sparsity`` as a float in [0, 1) (``ValueError`` otherwise: 1 would remove every weight)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= float(sparsity) < 1:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    return float(sparsity)


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``(name, module)`` pairs whose ``weight`` is pruned: every Linear / Conv, in order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _PRUNABLE)]


# ------------------------------------------------------------------------------------------------ masks
def magnitude_masks(model: nn.Module, sparsity: float, *, scope: str = "global") -> dict[str, torch.Tensor]:
    """Masks (1 = keep) removing the ``round(sparsity · n)`` weights of smallest ``|w|`` (Han et al. 2015):
    ``scope="global"`` ranks all Linear/Conv weights together (one threshold for the model); ``"local"`` prunes
    each layer to ``sparsity`` separately. Biases are not pruned. Ties are broken as ``torch.topk`` breaks them, as
    in ``torch.nn.utils.prune`` (so the global masks are identical to its ``global_unstructured``)."""
    sparsity = check_sparsity(sparsity)
    if scope not in ("global", "local"):
        raise ValueError(f"scope must be 'global' or 'local', got {scope!r}")
    layers = prunable(model)
    if not layers:
        raise ValueError("the model has no Linear/Conv weight to prune")
    weights = [m.weight.detach() for _, m in layers]
    masks = {}
    #: Local: each layer loses its own $\mathrm{round}(s\,n_\ell)$ smallest $|w|$.
    if scope == "local":
        for (name, _), w in zip(layers, weights):
            masks[name] = _smallest_mask(w.abs().reshape(-1), sparsity).reshape(w.shape)
        return masks
    #: Global magnitude pruning: concatenate $|w|$ of every layer and remove the $k = \mathrm{round}(s\,n)$
    #: smallest — one threshold for the whole model, so layers with many small weights lose more.
    flat = torch.cat([w.abs().reshape(-1) for w in weights])
    mask = _smallest_mask(flat, sparsity)
    start = 0
    for (name, _), w in zip(layers, weights):
        masks[name] = mask[start:start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks


def _smallest_mask(values: torch.Tensor, sparsity: float) -> torch.Tensor:
    k = round(sparsity * values.numel())
    mask = torch.ones_like(values)
    if k:
        mask[torch.topk(values, k, largest=False).indices] = 0
    return mask


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Multiply each masked weight by its mask, in place (``w ← w ⊙ m``); returns the model."""
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        if name not in modules:
            raise KeyError(f"mask for {name!r}, but the model has no such layer")
        modules[name].weight.mul_(mask.to(modules[name].weight.device))
    return model


def prune_magnitude(model: nn.Module, sparsity: float, *, scope: str = "global"):
    """A pruned copy of ``model`` and its masks: :func:`magnitude_masks` then :func:`apply_masks`."""
    pruned = copy.deepcopy(model)
    masks = magnitude_masks(pruned, sparsity, scope=scope)
    return apply_masks(pruned, masks), masks


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of zero Linear/Conv weights (biases excluded)."""
    total = zeros = 0
    for _, m in prunable(model):
        total += m.weight.numel()
        zeros += int((m.weight == 0).sum())
    return zeros / total


class KeepMasks(Callback):
    """Training callback: re-apply the masks after every optimiser step, so fine-tuning keeps pruned weights at 0."""

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = masks

    def on_step_end(self, loop, step, metrics) -> None:
        apply_masks(loop.model.module if hasattr(loop.model, "module") else loop.model, self.masks)


def fine_tune(model: nn.Module, masks: dict[str, torch.Tensor], split, *, epochs: int, lr: float = 1e-3,
              seed: int = 0, device=None, progress: bool = False):
    """Fine-tune a pruned model with its masks held fixed (:class:`KeepMasks`) through the one loop; returns the
    history."""
    from course_lib.low_power.models import train

    return train(model, split, epochs=epochs, lr=lr, seed=seed, device=device, callbacks=[KeepMasks(masks)],
                 progress=progress, desc="fine-tune")


# ---------------------------------------------------------------------------------------------- gradual
def gradual_sparsity(step: int, final: float, *, initial: float = 0.0, begin: int = 0, steps: int = 100,
                     every: int = 1) -> float:
    """Zhu & Gupta (2017), Eq. 1: ``s_t = s_f + (s_i − s_f)(1 − (t − t_0)/(nΔt))³`` for ``t`` in
    ``[t_0, t_0 + nΔt]`` (``steps`` = nΔt), held at ``s_i`` before and ``s_f`` after; updated every ``every`` steps.
    Prunes fast at first, when many weights are redundant, then slowly."""
    final, initial = check_sparsity(final), check_sparsity(initial)
    steps = as_int("steps", steps, minimum=1)
    step = as_int("step", step, minimum=0)
    t = min(max(step - begin, 0), steps)
    if t < steps:
        t -= t % as_int("every", every, minimum=1)
    #: The cubic schedule: $s_t = s_f + (s_i - s_f)\,(1 - t/(n\Delta t))^3$.
    return final + (initial - final) * (1 - t / steps) ** 3


class GradualPruning(Callback):
    """Training callback: every ``every`` steps recompute global magnitude masks at :func:`gradual_sparsity` of the
    step, and keep them applied after each step. ``self.masks`` holds the last masks."""

    def __init__(self, final: float, steps: int, *, every: int = 10, scope: str = "global"):
        self.final, self.steps, self.every, self.scope = check_sparsity(final), steps, every, scope
        self.masks: dict[str, torch.Tensor] = {}
        self.trace: list[tuple[int, float]] = []

    def on_step_end(self, loop, step, metrics) -> None:
        model = loop.model.module if hasattr(loop.model, "module") else loop.model
        if step % self.every == 0 or not self.masks:
            s = gradual_sparsity(step, self.final, steps=self.steps, every=self.every)
            self.masks = magnitude_masks(model, s, scope=self.scope)
            self.trace.append((step, s))
        apply_masks(model, self.masks)


def gradual_prune(model: nn.Module, split, final: float, *, epochs: int, lr: float = 1e-3, every: int = 10,
                  seed: int = 0, device=None, progress: bool = False):
    """Train ``model`` (a copy) while pruning it gradually to ``final`` sparsity over the first 3/4 of the steps
    (the last quarter fine-tunes at ``final``). Returns ``(model, masks, history, schedule trace)``."""
    from course_lib.low_power.models import train

    model = copy.deepcopy(model)
    steps_per_epoch = -(-len(split.x_train) // 64)
    cb = GradualPruning(final, max(1, (3 * epochs * steps_per_epoch) // 4), every=every)
    hist = train(model, split, epochs=epochs, lr=lr, seed=seed, device=device, callbacks=[cb], progress=progress,
                 desc=f"gradual → {final:.0%}")
    return model, cb.masks, hist, cb.trace


# --------------------------------------------------------------------------------------- structured removal
def channel_keep(layer: nn.Module, ratio: float) -> torch.Tensor:
    """Indices of the output channels (filters / rows) to keep: the ``round((1 − ratio) · C)`` of largest L1 norm
    ``Σ|W_c|`` (Li et al. 2017, §3.1), at least one, in their original order."""
    w = layer.weight.detach()
    norms = w.abs().reshape(w.shape[0], -1).sum(1)
    k = max(1, round((1 - ratio) * w.shape[0]))
    return torch.topk(norms, k).indices.sort().values


def prune_channels(model: nn.Sequential, ratio: float) -> nn.Sequential:
    """Structured pruning that **rebuilds** smaller layers: every Linear/Conv but the last loses ``ratio`` of its
    output channels (smallest L1 norm, :func:`channel_keep`) and the next Linear/Conv loses the matching input
    channels (through a ``Flatten``: the matching blocks of ``H·W`` columns). The result is a dense, smaller
    ``nn.Sequential`` — fewer parameters and MACs, no masks."""
    ratio = check_sparsity(ratio)
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"prune_channels expects an nn.Sequential, got {type(model).__name__}")
    layers = [copy.deepcopy(m) for m in model]
    idx = [i for i, m in enumerate(layers) if isinstance(m, _PRUNABLE)]
    if len(idx) < 2:
        raise ValueError("structured pruning needs at least two Linear/Conv layers (the last one keeps its outputs)")
    #: Keep, in every Linear/Conv but the classifier, the output channels of largest $\sum |W_c|$.
    prev_keep, prev_channels = None, None
    for i in idx:
        m = layers[i]
        if getattr(m, "groups", 1) != 1:
            raise ValueError(f"layer {i}: grouped/depthwise convolutions are not handled by prune_channels")
        keep = channel_keep(m, ratio) if i != idx[-1] else torch.arange(m.weight.shape[0], device=m.weight.device)
        w = m.weight.detach()[keep]
        #: The consumer loses the matching inputs: after a Flatten, channel $c$ of a conv feeds the
        #: columns $[c\,HW, (c+1)\,HW)$ of the linear layer.
        if prev_keep is not None:
            if isinstance(m, nn.Linear) and prev_channels is not None:
                spatial = m.in_features // prev_channels
                cols = (prev_keep[:, None] * spatial + torch.arange(spatial, device=w.device)).reshape(-1)
                w = w[:, cols]
            else:
                w = w[:, prev_keep]
        #: Rebuild a dense layer of the new shape (no masks): fewer parameters and MACs for real.
        bias = m.bias.detach()[keep] if m.bias is not None else None
        prev_keep, prev_channels = keep, (m.out_channels if not isinstance(m, nn.Linear) else None)
        layers[i] = _rebuild(m, w, bias)
    return nn.Sequential(*layers)


def _rebuild(m: nn.Module, w: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    if isinstance(m, nn.Linear):
        new = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    else:
        new = type(m)(w.shape[1], w.shape[0], m.kernel_size, stride=m.stride, padding=m.padding,
                      dilation=m.dilation, bias=bias is not None, padding_mode=m.padding_mode)
    with torch.no_grad():
        new.weight.copy_(w)
        if bias is not None:
            new.bias.copy_(bias)
    return new.to(w.device)


# -------------------------------------------------------------------------------------------------- CSR
def to_csr_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with every Linear/Conv weight stored as a CSR matrix ``(C_out, rest)`` (torch sparse CSR:
    float32 values, int32 column indices and row pointers) and everything else dense."""
    state = {}
    names = {f"{n}.weight" for n, _ in prunable(model)}
    for key, value in model.state_dict().items():
        if key in names:
            dense = value.detach().reshape(value.shape[0], -1)
            rows, cols = dense.nonzero(as_tuple=True)
            crow = torch.zeros(dense.shape[0] + 1, dtype=torch.int32)
            crow[1:] = torch.bincount(rows, minlength=dense.shape[0]).cumsum(0).to(torch.int32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sparse CSR support is marked beta
                value = torch.sparse_csr_tensor(crow, cols.to(torch.int32), dense[rows, cols], size=dense.shape)
        state[key] = value
    return state


def from_csr_state(state: dict[str, torch.Tensor], model: nn.Module) -> nn.Module:
    """Load a :func:`to_csr_state` dict back into ``model`` (dense), in place; returns the model."""
    own = model.state_dict()
    dense = {k: (v.to_dense().reshape(own[k].shape) if v.layout == torch.sparse_csr else v) for k, v in state.items()}
    model.load_state_dict(dense)
    return model


# -------------------------------------------------------------------------------------------------- peers
def torch_global_l1(model: nn.Module, sparsity: float, *, remove: bool = True) -> tuple[nn.Module, dict]:
    """The peer: ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured`` on every Linear/Conv weight of
    a copy. Returns ``(model, masks)``; with ``remove`` the reparametrisation is made permanent
    (``prune.remove``: plain ``weight`` tensors again, so the state dict saves and loads like an unpruned one)."""
    import torch.nn.utils.prune as prune

    sparsity = check_sparsity(sparsity)
    model = copy.deepcopy(model)
    layers = prunable(model)
    prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured,
                              amount=sparsity)
    masks = {n: m.weight_mask.detach().clone() for n, m in layers}
    if remove:
        for _, m in layers:
            prune.remove(m, "weight")
    return model, masks


def save_load_roundtrip(model: nn.Module, fresh: nn.Module) -> nn.Module:
    """Save ``model``'s state dict to memory and load it into ``fresh`` (same architecture) — the round trip a
    pruned model must survive after ``prune.remove`` (``weight_orig``/``weight_mask`` keys would not load)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    return fresh


def torch_pruning_channels(model: nn.Sequential, ratio: float, example: torch.Tensor) -> nn.Module:
    """The peer for structured removal: ``torch_pruning.pruner.MagnitudePruner`` (DepGraph, L1 importance) with
    ``pruning_ratio=ratio`` on every layer but the classifier, applied to a copy."""
    import torch_pruning as tp

    ratio = check_sparsity(ratio)
    model = copy.deepcopy(model).cpu()
    last = [m for m in model.modules() if isinstance(m, _PRUNABLE)][-1]
    pruner = tp.pruner.MagnitudePruner(model, example.cpu(), importance=tp.importance.MagnitudeImportance(p=1),
                                       pruning_ratio=ratio, ignored_layers=[last])
    pruner.step()
    return model


# --------------------------------------------------------------------------------------------------- study
def study(preset, *, device=None, progress: bool = False) -> dict:
    """Every pruning measurement of notebook 2 and of the claims on ``preset.model``'s cached baselines: global
    magnitude masks beside ``torch.nn.utils.prune`` (mask equality), fine-tuning at each sparsity, file sizes
    (dense with masks, CSR), the save/load round trip after ``prune.remove``, structured removal beside
    ``torch-pruning`` (params, MACs, accuracy after the same fine-tuning) and the gradual schedule."""
    import pandas as pd

    from course_lib import cost
    from course_lib.low_power.data import load
    from course_lib.low_power.models import DATASET_OF, accuracy, baseline, build, train

    split = load(DATASET_OF[preset.model])
    x, y, ex = split.x_test, split.y_test, split.example()
    mask_rows, ft_rows, struct_rows = [], [], []
    for seed in preset.seeds:
        model = baseline(preset.model, seed, device="cpu")
        n = sum(m.weight.numel() for _, m in prunable(model))
        for s in preset.sparsities:
            pruned, masks = prune_magnitude(model, s)
            peer, peer_masks = torch_global_l1(model, s)
            fresh = save_load_roundtrip(peer, build(preset.model))
            mask_rows.append({
                "seed": seed, "sparsity": s, "accuracy": accuracy(pruned, x, y),
                "zeros": sum(int((m.weight == 0).sum()) for _, m in prunable(pruned)), "target": round(s * n),
                "mask_differences": sum(int((masks[k] != peer_masks[k]).sum()) for k in masks),
                "dense_bytes": cost.serialized_bytes(model), "masked_bytes": cost.serialized_bytes(pruned),
                "csr_bytes": cost.serialized_bytes(to_csr_state(pruned)),
                "csr_analytic": cost.model_csr_bytes(pruned),
                "roundtrip_ok": float(all(torch.equal(v, fresh.state_dict()[k]) for k, v in peer.state_dict().items())
                                      and not any(k.endswith(("_orig", "_mask")) for k in peer.state_dict()))})
    for seed in preset.train_seeds:
        model = baseline(preset.model, seed, device="cpu")
        fp32 = accuracy(model, x, y)
        for s in preset.sparsities:
            pruned, masks = prune_magnitude(model, s)
            before = accuracy(pruned, x, y)
            fine_tune(pruned, masks, split, epochs=preset.finetune_epochs, lr=preset.finetune_lr, seed=seed,
                      device=device, progress=progress)
            pruned.cpu()
            ft_rows.append({"seed": seed, "sparsity": s, "fp32": fp32, "pruned": before,
                            "fine_tuned": accuracy(pruned, x, y), "drop": fp32 - accuracy(pruned, x, y),
                            "sparsity_after": weight_sparsity(pruned)})
        ours = prune_channels(model, preset.structured_ratio)
        peer = torch_pruning_channels(model, preset.structured_ratio, ex)
        row = {"seed": seed, "fp32": fp32}
        for name, m in (("ours", ours), ("torch-pruning", peer)):
            row[f"{name}_pruned"] = accuracy(m, x, y)
            train(m, split, epochs=preset.finetune_epochs, lr=preset.finetune_lr, seed=seed, device=device,
                  progress=progress)
            m.cpu()
            row[f"{name}_fine_tuned"] = accuracy(m, x, y)
            row[f"{name}_params_ratio"] = cost.count_params(m) / cost.count_params(model)
            row[f"{name}_macs_ratio"] = cost.count_macs(m, ex) / cost.count_macs(model, ex)
        row["drop"] = fp32 - row["ours_fine_tuned"]
        if seed == preset.train_seeds[0]:
            row["latency_ratio"] = (cost.latency(ours, ex, repeats=preset.latency_repeats)["p50_ms"]
                                    / cost.latency(model, ex, repeats=preset.latency_repeats)["p50_ms"])
            structured = {"dense": model, "structured": ours}
        struct_rows.append(row)
    out = {"masks": pd.DataFrame(mask_rows), "fine_tune": pd.DataFrame(ft_rows),
           "structured": pd.DataFrame(struct_rows), "structured_models": structured, "split": split}
    if preset.gradual_epochs:
        final = max(preset.sparsities)
        model = baseline(preset.model, preset.train_seeds[0], device="cpu")
        g, _, hist, trace = gradual_prune(model, split, final, epochs=preset.gradual_epochs, device=device,
                                          progress=progress)
        oneshot, masks = prune_magnitude(model, final)
        fine_tune(oneshot, masks, split, epochs=preset.gradual_epochs, lr=preset.finetune_lr, device=device)
        out["gradual"] = {"sparsity": final, "gradual": accuracy(g.cpu(), x, y),
                          "one_shot_fine_tuned": accuracy(oneshot.cpu(), x, y), "trace": trace}
    return out
