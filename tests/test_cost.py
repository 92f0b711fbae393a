"""The shared size / cost suite (course_lib.cost): exact counts on small layers, agreement with FlopCounterMode."""
import io

import pandas as pd
import pytest
import torch
from torch import nn

from course_lib import cost


def digits_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 10))


def test_params_and_macs_of_the_digits_cnn_by_hand():
    m = digits_cnn()
    assert cost.count_params(m) == 160 + 4640 + 32832 + 650
    hand = 64 * 16 * 9 + 64 * 32 * 16 * 9 + 512 * 64 + 64 * 10
    x = torch.randn(1, 1, 8, 8)
    assert cost.count_macs(m, x) == hand
    assert cost.flop_counter_macs(m, x) == hand
    assert cost.fvcore_macs(m, x) == hand  # fvcore: one fused multiply-add = one "flop"
    table = cost.mac_table(m, x)
    assert list(table["MACs"]) == [9216, 294912, 32768, 640]


@pytest.mark.parametrize("layer,shape", [
    (nn.Conv2d(16, 16, 3, padding=1, groups=16), (2, 16, 8, 8)),     # depthwise
    (nn.Conv2d(8, 12, (3, 5), stride=2, groups=4), (1, 8, 11, 13)),  # grouped, rectangular, strided
    (nn.Conv1d(3, 7, 5, padding=2), (2, 3, 40)),
    (nn.Conv3d(2, 4, 3), (1, 2, 5, 6, 7)),
    (nn.Linear(5, 3), (4, 6, 5)),                                     # sequence input: per position
])
def test_macs_agree_with_flop_counter_mode(layer, shape):
    x = torch.randn(shape)
    ours = cost.count_macs(layer, x)
    assert ours == cost.flop_counter_macs(layer, x)
    out = layer(x)
    if isinstance(layer, nn.Linear):
        assert ours == out.numel() * layer.in_features
    else:
        k = 1
        for s in layer.kernel_size:
            k *= s
        assert ours == out.numel() * layer.in_channels // layer.groups * k


def test_depthwise_separable_ratio_is_exact():
    c_in, c_out, k = 16, 32, 3
    std = nn.Conv2d(c_in, c_out, k, padding=1)
    sep = nn.Sequential(nn.Conv2d(c_in, c_in, k, padding=1, groups=c_in), nn.Conv2d(c_in, c_out, 1))
    x = torch.randn(1, c_in, 8, 8)
    assert cost.count_macs(sep, x) / cost.count_macs(std, x) == pytest.approx(1 / c_out + 1 / k**2, abs=1e-12)


def test_analytic_bytes_pack_low_bit_weights_and_count_scales():
    m = nn.Linear(10, 4)  # weight 40, bias 4
    assert cost.analytic_bytes(m) == 44 * 4
    assert cost.analytic_bytes(m, 8) == 40 + 4 * 4 + 4 * 4          # int8 weights + 4 fp32 scales + fp32 bias
    assert cost.analytic_bytes(m, "int4") == 20 + 16 + 16
    assert cost.analytic_bytes(m, 2, per_channel=False) == 10 + 4 + 16
    assert cost.analytic_bytes(m, 8, zero_point=True) == 40 + 16 + 4 + 16
    assert cost.packed_bytes(3, 4) == 2 and cost.packed_bytes(5, 2) == 2 and cost.packed_bytes(0, 8) == 0


def test_serialized_bytes_is_the_file_size():
    m = digits_cnn()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    assert cost.serialized_bytes(m) == len(buf.getvalue()) == cost.serialized_bytes(m.state_dict())
    assert cost.serialized_bytes(m, compress=True) < len(buf.getvalue())


def test_nonzero_and_csr_bytes():
    w = torch.zeros(4, 6)
    w[0, 1] = w[2, 3] = w[3, 5] = 1.0
    assert cost.csr_bytes(w) == 3 * 4 + 3 * 4 + 5 * 4
    assert cost.csr_bytes(w, value_bits=8, index_bits=16) == 3 + 6 + 10
    m = nn.Linear(6, 4)
    with torch.no_grad():
        m.weight.copy_(w)
    assert cost.count_nonzero(m) == 3 + int(torch.count_nonzero(m.bias))
    assert cost.model_csr_bytes(m) == cost.csr_bytes(w) + 16


def test_latency_protocol_restores_threads_and_reports_percentiles():
    before = torch.get_num_threads()
    out = cost.latency(nn.Linear(8, 8), torch.randn(1, 8), threads=1, warmup=2, repeats=7)
    assert torch.get_num_threads() == before
    assert out["repeats"] == 7 and out["threads"] == 1
    assert 0 < out["p50_ms"] <= out["p90_ms"]


def test_energy_proxy_is_linear_and_int8_is_cheaper():
    e = cost.energy_proxy(1000, 100, dtype="fp32", memory="sram")
    assert e["compute_pJ"] == pytest.approx(1000 * cost.ENERGY_PJ["mac"]["fp32"])
    assert e["proxy_uJ"] == pytest.approx((e["compute_pJ"] + e["memory_pJ"]) / 1e6)
    assert cost.energy_proxy(1000, 100, dtype="int8")["compute_pJ"] < cost.energy_proxy(1000, 100)["compute_pJ"]


def test_pareto_front_and_plot():
    df = pd.DataFrame({"bytes": [10, 20, 30, 15], "accuracy": [90, 95, 94, 89]}, index=list("abcd"))
    front = cost.pareto_front(df, "bytes")
    assert front.to_dict() == {"a": True, "b": True, "c": False, "d": False}
    fig = cost.plot_pareto(df, "bytes", "accuracy")
    assert len(fig.axes[0].collections[0].get_offsets()) == 4


def test_compare_returns_a_row_per_model_and_ratios():
    torch.manual_seed(0)
    m = digits_cnn()
    x, y = torch.randn(30, 1, 8, 8), torch.randint(0, 10, (30,))
    df = cost.compare(m, m, (x, y), bits=(32, 8), timing=False)
    assert list(df.index) == ["ours", "peer", "peer / ours"]
    assert df.loc["peer", "accuracy"] == df.loc["ours", "accuracy"]
    assert df.loc["peer / ours", "analytic_bytes"] == pytest.approx(39136 / 153128)
    assert df.loc["ours", "MACs"] == 337536


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="bits"):
        cost.analytic_bytes(nn.Linear(2, 2), 0)
    with pytest.raises(ValueError, match="dtype name"):
        cost.analytic_bytes(nn.Linear(2, 2), "int7")
    with pytest.raises(TypeError, match="nn.Module"):
        cost.count_params("model")
    with pytest.raises(TypeError, match="example"):
        cost.count_macs(nn.Linear(2, 2), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="repeats"):
        cost.latency(nn.Linear(2, 2), torch.randn(1, 2), repeats=0)
    with pytest.raises(ValueError, match="dtype"):
        cost.energy_proxy(1, 1, dtype="int3")
    with pytest.raises(KeyError, match="columns"):
        cost.pareto_front(pd.DataFrame({"a": [1]}), "bytes")
    with pytest.raises(ValueError, match="numel"):
        cost.packed_bytes(-1, 8)
