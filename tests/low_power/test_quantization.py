"""From-scratch quantisation: exact properties, the STE, real int8 and agreement with torch.ao."""
import math

import pytest
import torch

from course_lib import cost
from course_lib.low_power import data, models
from course_lib.low_power import quantization as Q


def test_uniform_quantisation_error_is_delta_squared_over_twelve():
    torch.manual_seed(0)
    x = torch.rand(200_000) * 2 - 1
    scale, zero = Q.qparams(torch.tensor(-1.0), torch.tensor(1.0), 6, symmetric=True)
    err = (Q.fake_quantize(x, scale, zero, 6, symmetric=True) - x).pow(2).mean()
    assert float(err) == pytest.approx(float(scale) ** 2 / 12, rel=0.02)
    assert float((Q.fake_quantize(x, scale, zero, 6, symmetric=True) - x).abs().max()) <= float(scale) / 2 + 1e-7


def test_affine_grid_represents_zero_and_the_range():
    lo, hi = torch.tensor(-0.3), torch.tensor(2.1)
    s, z = Q.qparams(lo, hi, 8, symmetric=False)
    assert 0 <= int(z) <= 255
    assert float(Q.fake_quantize(torch.tensor(0.0), s, z, 8, symmetric=False)) == 0.0
    assert float(Q.fake_quantize(hi, s, z, 8, symmetric=False)) == pytest.approx(2.1, abs=float(s))


def test_per_channel_beats_per_tensor_on_unequal_channels():
    w = torch.randn(4, 50) * torch.tensor([[0.01], [0.1], [1.0], [10.0]])
    pc = Q.quantize_tensor(w, 4, per_channel=True)
    pt = Q.quantize_tensor(w, 4, per_channel=False)
    assert Q.sqnr_db(w, pc) > Q.sqnr_db(w, pt) + 3


def test_observers_order_the_range_and_mse_lowers_error():
    torch.manual_seed(1)
    x = torch.cat([torch.randn(10_000), torch.tensor([40.0])])  # one outlier
    lo_mm, hi_mm = Q.observe(x, 4, observer="minmax")
    lo_p, hi_p = Q.observe(x, 4, observer="percentile", percentile=99.9)
    assert float(hi_p) < float(hi_mm) and float(lo_p) > float(lo_mm)
    err = {}
    for obs in ("minmax", "mse"):
        lo, hi = Q.observe(x, 4, observer=obs)
        s, z = Q.qparams(lo, hi, 4, symmetric=True)
        err[obs] = float((Q.fake_quantize(x, s, z, 4, symmetric=True) - x).pow(2).mean())
    assert err["mse"] < err["minmax"]


def test_sqnr_grows_about_six_db_per_bit():
    torch.manual_seed(2)
    x = torch.rand(100_000) * 2 - 1
    gains = [Q.sqnr_db(x, Q.quantize_tensor(x, b + 1, per_channel=False))
             - Q.sqnr_db(x, Q.quantize_tensor(x, b, per_channel=False)) for b in (6, 7, 8)]
    assert all(abs(g - 20 * math.log10(2)) < 0.6 for g in gains)


def test_clipped_ste_passes_gradient_inside_and_blocks_outside():
    w = torch.tensor([[-3.0, -0.5, 0.2, 0.9, 3.0]], requires_grad=True)
    scale, zero = torch.tensor([1.0]), torch.tensor([0])
    out = Q.ste_quantize(w, 2, scale, zero)  # range [-1, 1] (± half a step)
    out.sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0, 1.0, 1.0, 0.0]]
    assert out.tolist() == [[-1.0, -0.0, 0.0, 1.0, 1.0]]


def test_one_bit_keeps_the_sign():
    w = torch.tensor([[-2.0, 1.0, 3.0]])
    out = Q.quantize_tensor(w, 1)
    assert out.tolist() == [[-2.0, 2.0, 2.0]]


def test_packed_state_is_smaller_and_analytic_ratio():
    m = models.build("digits_cnn", 0)
    dense = cost.serialized_bytes(m)
    sizes = {b: cost.serialized_bytes(Q.pack_state(m, b)) for b in (8, 4, 2)}
    assert dense > sizes[8] > sizes[4] > sizes[2]
    assert cost.analytic_bytes(m) / cost.analytic_bytes(m, 8) >= 3.9


def test_real_int8_model_runs_on_int8_kernels_and_agrees_with_simulation_and_torch_ao():
    s = data.load_digits()
    m = models.baseline("digits_cnn", 0, device="cpu", train_if_missing=False)
    sim = Q.ptq(m, s.x_train[:256], 8)
    real = Q.to_int8(sim)
    out = real[:-1](s.x_test[:5])  # before DeQuantize: a quantized tensor produced by int8 kernels
    assert out.is_quantized and out.dtype == torch.quint8
    acc = {k: models.accuracy(v, s.x_test, s.y_test)
           for k, v in {"fp32": m, "sim": sim, "real": real, "ao": Q.torch_ao_static(m, s.x_train[:256])}.items()}
    assert acc["fp32"] - acc["real"] <= 1.0
    assert abs(acc["real"] - acc["ao"]) <= 0.5 and abs(acc["real"] - acc["sim"]) <= 0.5
    assert cost.serialized_bytes(m) / cost.serialized_bytes(real) >= 3.0
    assert cost.count_macs(real, s.example()) == cost.count_macs(m, s.example())


def test_qat_trains_through_the_quantiser():
    s = data.load_digits()
    m = models.baseline("digits_cnn", 0, device="cpu", train_if_missing=False)
    qm, hist = Q.qat(m, s, 2, epochs=2, device="cpu")
    w = qm[6].weight
    assert len(torch.unique(w[0])) <= 3  # ternary per channel
    assert models.accuracy(qm, s.x_test, s.y_test) > models.accuracy(Q.quantize_weights(m, 2), s.x_test, s.y_test)


@pytest.mark.parametrize("bits", [0, 17, 2.5, True, "8"])
def test_bits_outside_one_to_sixteen_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be an int between 1 and 16"):
        Q.quantize_weights(models.build("digits_mlp"), bits)
    with pytest.raises(ValueError, match="between 1 and 16"):
        Q.quantize_tensor(torch.randn(3, 3), bits)


def test_other_bad_input():
    with pytest.raises(ValueError, match="observer"):
        Q.observe(torch.randn(5), 8, observer="kl")
    with pytest.raises(TypeError, match="nn.Sequential"):
        Q.ptq(torch.nn.Linear(2, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="8-bit"):
        Q.to_int8(Q.ptq(models.build("digits_mlp"), torch.randn(8, 1, 8, 8), 4))
