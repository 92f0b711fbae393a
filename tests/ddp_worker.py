"""Launched by tests/test_train.py with ``torchrun --nproc_per_node 2`` (gloo on CPU).

Each rank seeds itself differently *before* the process group exists, so the ranks start from different weights:
only DDP's broadcast of rank 0's weights (and the gradient all-reduce) can make them end identical. Three sources
are trained: a Dataset (DistributedSampler), a per-rank step sampler and a shard()-ed list; every rank records the
sample indices it trained on, and a plain list (which would give both ranks the same batches) must be refused.
"""
import os
import sys

import torch
from torch.utils.data import TensorDataset

from course_lib.train import Loop, fit, per_rank, rank, rank_seed, shard

X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
IDX = torch.arange(64)


def fresh_model():
    torch.manual_seed(100 + int(os.environ["RANK"]))  # different initial weights on every rank
    model = torch.nn.Linear(3, 1)
    return model, {k: v.clone() for k, v in model.state_dict().items()}


def recording_loss(seen):
    def loss_fn(model, batch):
        x, y, i = batch
        seen.append(i.clone())
        return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
    return loss_fn


def main(out_dir: str) -> None:
    result = {}
    # 1. a Dataset through fit(): DistributedSampler, 3 epochs of 4 batches of 8 per rank
    model, init = fresh_model()
    seen = []
    hist = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), recording_loss(seen), TensorDataset(X, Y, IDX),
               epochs=3, batch_size=8, progress=False, device="cpu", seed=0)
    result["dataset"] = {"init": init, "state": model.state_dict(), "loss": hist["train_loss"].tolist(),
                         "seen": torch.stack([torch.cat(seen[e * 4:(e + 1) * 4]) for e in range(3)])}

    # 2. steps mode with a sampler that draws per-rank batches from a generator seeded with rank_seed
    model, init = fresh_model()
    gen = torch.Generator().manual_seed(rank_seed(1))

    def sample(step):
        i = torch.randint(0, 64, (8,), generator=gen)
        return X[i], Y[i], i

    seen = []
    loop = Loop(model, torch.optim.SGD(model.parameters(), lr=0.1), recording_loss(seen), device="cpu", seed=0)
    refused = ""
    try:
        loop.run(sample, steps=2, progress=False)
    except ValueError as err:
        refused = str(err)
    hist = loop.run(per_rank(sample), steps=20, eval_every=5, progress=False,
                    evaluate=lambda m: {"mse": float(torch.nn.functional.mse_loss(m(X).squeeze(-1), Y))})
    result["sampler"] = {"init": init, "state": model.state_dict(), "loss": hist["mse"].tolist(),
                         "seen": torch.cat(seen)}
    result["refused"] = refused

    # 3. a list of batches identical on every rank, split with shard(): rank r trains on batches r, r + 2, ...
    model, init = fresh_model()
    batches = [(X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8], torch.full((8,), i)) for i in range(8)]
    seen = []
    hist = Loop(model, torch.optim.SGD(model.parameters(), lr=0.1), recording_loss(seen), device="cpu").run(
        shard(batches), epochs=4, progress=False)
    result["shard"] = {"init": init, "state": model.state_dict(), "loss": hist["train_loss"].tolist(),
                       "seen": torch.cat(seen)}

    # 4. steps mode over a step -> batch sampler that is the same on every rank, split with shard()
    model, init = fresh_model()
    seen = []
    hist = Loop(model, torch.optim.SGD(model.parameters(), lr=0.1), recording_loss(seen), device="cpu").run(
        shard(lambda step: batches[step % 8]), steps=12, eval_every=4, progress=False)
    result["shard_steps"] = {"init": init, "state": model.state_dict(), "loss": hist["train_loss"].tolist(),
                             "seen": torch.cat(seen)}
    torch.save(result, f"{out_dir}/rank{rank()}.pt")
    torch.distributed.barrier()  # no rank tears gloo down while the other still talks to it (seen to hang)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
