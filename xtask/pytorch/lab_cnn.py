"""The lab's CNN in PyTorch, timed per epoch: the reference `cargo xtask bench` compares the
`cnn` epoch with when `EMBER_BENCH_PYTORCH` names a Python that has torch installed (never a
dependency of Ember).

Same model and protocol as Ember's `cnn` experiment (two blocks of Conv2d 3x3 pad 1, ReLU,
MaxPool2d 2; Linear 3136 -> 10 with Xavier-uniform weights; Adam 0.001, batch 100, shuffled,
the last partial batch dropped), on 60,000 synthetic images as `ember-bench` uses, on 2
threads. Prints one line per epoch: `epoch <n> <seconds>`.
"""

import sys
import time

import torch


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.manual_seed(777)
    torch.set_num_threads(2)
    x = torch.rand(60000, 1, 28, 28)
    y = torch.randint(0, 10, (60000,))
    layer = lambda c_in, c_out: torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, 3, 1, 1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)
    )
    fc = torch.nn.Linear(7 * 7 * 64, 10)
    torch.nn.init.xavier_uniform_(fc.weight)
    model = torch.nn.Sequential(layer(1, 32), layer(32, 64), torch.nn.Flatten(), fc)
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
