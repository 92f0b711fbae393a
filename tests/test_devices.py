"""Device handling (issue 13): every default device resolves through COURSE_DEVICE, timings synchronise, the fused
attention works under autocast, and only public torch APIs are used. CUDA/MPS tests run where a GPU exists."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.device import clock, resolve_device, synchronize

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
MPS = pytest.mark.skipif(not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
                         reason="needs Apple MPS")


def test_resolve_device_follows_course_device(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu")
    assert resolve_device(torch.device("meta")) == torch.device("meta")  # an explicit device passes through
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="COURSE_DEVICE='tpu' is not valid"):
        resolve_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_resolve_device_explains_a_missing_gpu():
    with pytest.raises(RuntimeError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")


def test_clock_and_synchronize_on_cpu():
    x = torch.randn(64, 64)
    t0 = clock(x)
    x @ x
    synchronize(x)
    synchronize("cpu")
    assert clock("cpu") >= t0


def test_library_defaults_resolve_through_course_device(monkeypatch):
    from course_lib.gnn_lf_hf.graph import adjacency, karate_club
    from course_lib.relative_position.synthetic import build_tagger

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert next(build_tagger("relative", 2, d_model=16, num_heads=2).parameters()).device.type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "bogus")  # proves the default really reads COURSE_DEVICE
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        build_tagger("relative", 2, d_model=16, num_heads=2)
    # tensor utilities follow their input's device instead (no hidden transfer of the caller's data)
    edge_index, y = karate_club()
    assert adjacency(edge_index, y.numel()).device == edge_index.device
    assert adjacency(edge_index, y.numel(), device="cpu").device.type == "cpu"  # an explicit device wins


def test_gnn_build_model_default_device(monkeypatch):
    from course_lib.gnn_lf_hf.datasets import GraphData
    from course_lib.gnn_lf_hf.graph import karate_club
    from course_lib.gnn_lf_hf.models import build_model

    edge_index, y = karate_club()
    mask = torch.ones(34, dtype=torch.bool)
    data = GraphData("karate", torch.eye(34), y, edge_index, mask, ~mask, ~mask)
    monkeypatch.setenv("COURSE_DEVICE", "bogus")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        build_model(data, "appnp")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    model = build_model(data, "appnp", K=2)
    assert next(model.parameters()).device.type == "cpu" and model.propagation.A_hat.device.type == "cpu"


def _attention_inputs(dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 9, 8, generator=g, dtype=dtype).to(device).requires_grad_() for _ in range(3))
    wk, wv = (torch.randn(5, 8, generator=g, dtype=dtype).to(device).requires_grad_() for _ in range(2))
    return q, k, v, wk, wv


def _grads_under_autocast(impl, device_type, dtype, device="cpu", causal=False):
    from course_lib.relative_position.attention import relative_attention

    ins = _attention_inputs(device=device)
    with torch.autocast(device_type, dtype=dtype):
        out, _ = relative_attention(*ins, impl=impl, causal=causal)
    out.float().square().sum().backward()
    return out, [t.grad for t in ins]


@pytest.mark.parametrize("causal", [False, True])
def test_fused_attention_backward_runs_under_cpu_bf16_autocast(causal):
    """fp32 inputs, bf16 autocast: the hand-written backward must run under the forward's autocast state
    (torch.amp.custom_fwd/custom_bwd), else its matmuls mix bf16 and fp32 and raise."""
    out, grads = _grads_under_autocast("fused", "cpu", torch.bfloat16, causal=causal)
    ref_out, ref = _grads_under_autocast("einsum", "cpu", torch.bfloat16, causal=causal)
    assert out.dtype == torch.bfloat16
    for g, r in zip(grads, ref):
        assert g.dtype == torch.float32  # gradients come back in the parameters' dtype
        assert float((g - r).abs().max()) <= 0.05 * float(r.abs().max()) + 1e-3
    assert float((out.detach().float() - ref_out.detach().float()).abs().max()) < 0.05


def test_fused_attention_uses_only_public_torch_apis():
    source = Path(__file__).parents[1] / "course_lib"
    private = re.compile(r"\btorch\.(?!_dynamo\b)_[a-z]\w*|\baten\._\w+|torch\.ops\.aten\._")
    offenders = [f"{p.relative_to(source.parent)}:{i}" for p in source.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if private.search(line)]
    assert offenders == []


@CUDA
def test_cuda_spectral_counter_attention():
    from course_lib.counting.component import Counter
    from course_lib.counting.reference import counter_single
    from course_lib.gnn_lf_hf.graph import gcn_operators, karate_club
    from course_lib.gnn_lf_hf.spectral import laplacian_spectrum, spectral_energy

    edge_index, y = karate_club()
    _, L = gcn_operators(edge_index, 34, device="cuda")
    lam = laplacian_spectrum(L)
    assert isinstance(lam, np.ndarray) and lam.max() < 2
    lam2, energy = spectral_energy(torch.randn(34, 2, device="cuda"), L)
    assert np.allclose(lam, lam2) and energy.sum() == pytest.approx(1.0)
    counter = Counter(3, 4).cuda()
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.2, 0.1, 0.6, 0.9], [0.3, 0.3, 0.4, 0.4]], device="cuda")
    att = torch.tensor([0.9, 0.8, 0.1], device="cuda")
    assert torch.allclose(counter_single(counter, boxes, att), counter(boxes[None], att[None])[0], atol=1e-5)
    out, grads = _grads_under_autocast("fused", "cuda", torch.float16, device="cuda")
    ref_out, ref = _grads_under_autocast("einsum", "cuda", torch.float16, device="cuda")
    for g, r in zip(grads, ref):
        assert float((g - r).abs().max()) <= 0.02 * float(r.abs().max()) + 1e-3


@MPS
def test_mps_sinusoids_and_spectrum():
    from course_lib.gnn_lf_hf.graph import gcn_operators, karate_club
    from course_lib.gnn_lf_hf.spectral import laplacian_spectrum
    from course_lib.relative_position.positions import sinusoidal_encoding

    pe = sinusoidal_encoding(10, 8, device="mps")  # float64 phases are computed on the CPU, MPS has no float64
    assert pe.device.type == "mps" and torch.allclose(pe.cpu(), sinusoidal_encoding(10, 8), atol=1e-6)
    _, L = gcn_operators(karate_club()[0], 34, device="cpu")
    assert np.allclose(laplacian_spectrum(L.to_dense().to("mps")), laplacian_spectrum(L), atol=1e-5)
