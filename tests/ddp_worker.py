"""Launched by tests/test_train.py with ``torchrun --nproc_per_node 2``: trains a tiny model with fit()."""
import sys

import torch
from torch.utils.data import TensorDataset

from course_lib import seed_everything
from course_lib.train import fit, rank


def main(out_dir: str) -> None:
    seed_everything(rank())  # different initial weights per rank: DDP must broadcast rank 0's
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, opt, lambda m, b: torch.nn.functional.mse_loss(m(b[0]).squeeze(-1), b[1]),
                  TensorDataset(x, y), epochs=5, batch_size=8, progress=False, device="cpu")
    torch.save({"state": model.state_dict(), "loss": history["train_loss"].tolist()}, f"{out_dir}/rank{rank()}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
