#!/usr/bin/env python3
"""Makes the small fixtures that check prune reads other people's models and arrays.

Trains a small MLP and a small CNN with PyTorch on a synthetic 8x8 task, saves their
state_dicts with safetensors (the MLP file carries one extra tensor, so `strict=false` has
something to skip), and saves fixture inputs with PyTorch's logits as a compressed .npz.
Also writes small .npy/.npz files in the dtypes and layouts NumPy users meet.

    python3 scripts/torch_fixtures.py            # writes Tests/BindingsTests/fixtures/torch/

The test (Tests/BindingsTests/TorchImportTests.swift) loads them with
`load(path, into=net, rename=..., strict=false)` and compares prune's logits with PyTorch's.
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "BindingsTests", "fixtures", "torch")


def task(n, seed):
    """Ten classes of 8x8 images: a class-dependent bright bar plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = 0.2 * torch.rand(n, 1, 8, 8, generator=g)
    for i in range(n):
        c = int(y[i])
        if c < 8:
            x[i, 0, c, :] += 0.8
        else:
            x[i, 0, :, (c - 8) * 4:(c - 8) * 4 + 2] += 0.8
    return x, y


def fit(net, x, y, epochs=30):
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(epochs):
        for i in range(0, len(x), 32):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            opt.step()
    return net


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    x, y = task(512, seed=1)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 2 * 2, 10))
    fit(mlp, x, y)
    fit(cnn, x, y)
    mlp.eval(); cnn.eval()

    # Keys as PyTorch names them: "1.weight" (Flatten is layer 0 of the MLP), "0.weight", ...
    mlp_state = {k: v.contiguous() for k, v in mlp.state_dict().items()}
    mlp_state["temperature"] = torch.tensor([1.5])  # not part of the model: strict=false skips it
    save_file(mlp_state, os.path.join(OUT, "mlp.safetensors"))
    save_file({k: v.contiguous() for k, v in cnn.state_dict().items()}, os.path.join(OUT, "cnn.safetensors"))

    tx, ty = task(16, seed=2)
    with torch.no_grad():
        np.savez_compressed(os.path.join(OUT, "predictions.npz"), x=tx.numpy(), y=ty.numpy(),
                            mlp=mlp(tx).numpy(), cnn=cnn(tx).numpy())
    print("mlp accuracy on the fixture inputs:", float((mlp(tx).argmax(1) == ty).float().mean()))
    print("cnn accuracy on the fixture inputs:", float((cnn(tx).argmax(1) == ty).float().mean()))

    # NumPy layouts: dtypes, Fortran order, big-endian, booleans, a stored (uncompressed) archive.
    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
    np.save(os.path.join(OUT, "f8.npy"), a)
    np.save(os.path.join(OUT, "fortran.npy"), np.asfortranarray(a.astype(np.float32)))
    np.save(os.path.join(OUT, "i8_big.npy"), np.array([-3, 0, 7, 1 << 20], dtype=">i8"))
    np.save(os.path.join(OUT, "bool.npy"), np.array([[True, False], [False, True]]))
    np.save(os.path.join(OUT, "u1.npy"), np.array([0, 128, 255], dtype=np.uint8))
    np.savez(os.path.join(OUT, "stored.npz"), x=np.arange(6, dtype=np.float32).reshape(2, 3),
             y=np.array([1, 0], dtype=np.int64))
    return 0


if __name__ == "__main__":
    sys.exit(main())
