"""The lab's CNN in PyTorch, timed per epoch: the reference `cargo xtask bench` compares the
`cnn` epoch with when `EMBER_BENCH_PYTORCH` names a Python that has torch installed (never a
dependency of Ember).

Same model and protocol as Ember's `cnn` experiment (two blocks of Conv2d 3x3 pad 1, ReLU,
MaxPool2d 2; Linear 3136 -> 10 with Xavier-uniform weights; Adam 0.001, batch 100, shuffled,
the last partial batch dropped), on 2 threads, on Fashion-MNIST's training set where it finds
one (`data/fashion-mnist`, then Debian's copy), as the issue's PyTorch figures were measured.
On uniform random pixels and labels PyTorch runs about a third slower (subnormal numbers,
which it does not flush), so synthetic data is only a fallback, and the first line says
which was used. Prints `data <fashion-mnist|synthetic>`, then one line
per epoch: `epoch <n> <seconds>`.
"""

import gzip
import os
import sys
import time

import numpy as np
import torch

DATA_DIRS = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"]


def fashion_mnist():
    """The training images (N, 1, 28, 28) in [0, 1] and labels, or None if not found."""
    for d in DATA_DIRS:
        images = os.path.join(d, "train-images-idx3-ubyte.gz")
        labels = os.path.join(d, "train-labels-idx1-ubyte.gz")
        if os.path.exists(images) and os.path.exists(labels):
            with gzip.open(images) as f:
                x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
            with gzip.open(labels) as f:
                y = np.frombuffer(f.read(), np.uint8, offset=8)
            x = torch.from_numpy(x.astype(np.float32) / 255.0)
            return x, torch.from_numpy(y.astype(np.int64))
    return None


class LabCnn(torch.nn.Module):
    """The lab's CNN as the lab writes it: its layers made in this order from the seed, so the
    initial weights, and with them the run's share of subnormal numbers (which PyTorch does
    not flush: they slow its epochs by up to a third), are the lab's."""

    def __init__(self) -> None:
        super().__init__()
        block = lambda c_in, c_out: torch.nn.Sequential(
            torch.nn.Conv2d(c_in, c_out, 3, 1, 1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)
        )
        self.layer1 = block(1, 32)
        self.layer2 = block(32, 64)
        self.fc = torch.nn.Linear(7 * 7 * 64, 10, bias=True)
        torch.nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer2(self.layer1(x))
        return self.fc(out.view(out.size(0), -1))


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.manual_seed(777)
    torch.set_num_threads(2)
    data = fashion_mnist()
    if data is None:
        print("data synthetic", flush=True)
        x, y = torch.rand(60000, 1, 28, 28), torch.randint(0, 10, (60000,))
    else:
        print("data fashion-mnist", flush=True)
        x, y = data
    model = LabCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(data, batch_size=100, shuffle=True, drop_last=True)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
        print(f"epoch {epoch} {time.perf_counter() - start:.3f}", flush=True)


if __name__ == "__main__":
    main()
