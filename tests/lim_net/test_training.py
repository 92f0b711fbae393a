import numpy as np
import torch

from course_lib.lim_net.data import synthetic_case
from course_lib.lim_net.models import ClickUNet2D, MemoryNet
from course_lib.lim_net.train import _loop, seg_loss, train_click_net, train_memory_net, training_pool_structures


def _pool():
    case = synthetic_case((12, 32, 32), seed=2)
    return training_pool_structures([(case.image, case.labels == k) for k in np.unique(case.labels[case.labels > 0])])


def test_training_goes_through_the_core_loop_and_logs_history():
    torch.manual_seed(0)
    pool = _pool()
    h = train_click_net(ClickUNet2D(base=4), pool, iters=3, batch=2, crop=32, progress=False)
    assert list(h.columns) == ["net", "iter", "loss", "seconds"] and h["iter"].tolist() == [3]
    assert np.isfinite(h["loss"]).all()
    h = train_memory_net(MemoryNet(key_dim=8, value_dim=8, width=4), pool, iters=2, batch=2, crop=32,
                         progress=False)
    assert h["net"].tolist() == ["memory_net"] and np.isfinite(h["loss"]).all()


def test_loop_checkpoint_resume_trains_no_further(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    x, y = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    ck = tmp_path / "ck.pt"
    h = _loop(net, opt, lambda: (x, y), lambda m, b: seg_loss(m(b[0]), b[1]), 4, "toy", False, log_every=2,
              checkpoint=ck)
    assert h["iter"].tolist() == [2, 4] and ck.is_file()
    w = net.weight.detach().clone()
    _loop(net, opt, lambda: (x, y), lambda m, b: seg_loss(m(b[0]), b[1]), 4, "toy", False, log_every=2,
          checkpoint=ck)
    assert torch.equal(w, net.weight.detach())
