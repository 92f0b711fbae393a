import torch

from course_lib.faan.benchmark import neighbor_table
from course_lib.faan.model import FAANConfig
from course_lib.faan.training import MetaConfig, WarmupDecay, meta_train


def test_warmup_then_linear_decay():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupDecay(opt, warmup=4, total=12)
    assert [sched.factor(s) for s in (0, 3, 4, 8, 12)] == [0.25, 1.0, 1.0, 0.5, 0.0]
    assert opt.param_groups[0]["lr"] == 0.25


def test_meta_training_is_reproducible_and_ablations_see_the_same_episodes(umls_bench):
    nt = neighbor_table(umls_bench, 4)
    g = torch.Generator().manual_seed(0)
    ent = torch.randn(umls_bench.num_entities, 8, generator=g)
    rel = torch.randn(umls_bench.num_relations, 8, generator=g)
    meta = MetaConfig(steps=12, queries=8, warmup=3)
    runs = [meta_train(umls_bench, ent, rel, nt, FAANConfig(dim=8, dropout=0.0), meta, 3, seed=1, device="cpu")
            for _ in range(2)]
    assert torch.equal(runs[0][2], runs[1][2]) and len(runs[0][2]) == 12
    static = meta_train(umls_bench, ent, rel, nt, FAANConfig(dim=8, dropout=0.0, adaptive_neighbors=False), meta, 3,
                        seed=1, device="cpu")
    assert not torch.equal(static[2], runs[0][2])  # a different model on the same episodes
    assert static[0].neighbors.w_b is None
