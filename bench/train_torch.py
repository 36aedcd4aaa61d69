#!/usr/bin/python3
"""The train benchmark's baseline: the same training as Sieve's linear/cosine heads, in PyTorch on one
CPU thread. Float32 features read from a raw file (N×D), labels (int32, N). Per epoch: class-balanced
draws, per batch mixup (λ ~ Beta(α, α) folded to ≥ ½, a partner permutation), GCE on the soft targets,
SGD with momentum and weight decay and a per-step cosine learning rate, then softmax predictions on all
N samples (as the node computes after every epoch). Prints {"seconds": ...} for the training loop.

    /usr/bin/python3 bench/train_torch.py features.f32 labels.i32 N D K EPOCHS HEAD
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    torch.set_num_threads(1)
    feats, labs, n, d, k, epochs, head = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7]), sys.argv[7]
    X = torch.from_numpy(np.fromfile(feats, dtype=np.float32).reshape(n, d))
    Y = torch.from_numpy(np.fromfile(labs, dtype=np.int32).astype(np.int64))
    g = torch.Generator().manual_seed(0)
    rs = np.random.default_rng(0)
    W = ((torch.rand(k, d, generator=g) * 2 - 1) / math.sqrt(d)).requires_grad_(True)
    b = torch.zeros(k, requires_grad=True)
    scale, q, batch, lr0 = 1 / 0.07, 0.7, 128, 0.02
    opt = torch.optim.SGD([W, b], lr=lr0, momentum=0.9, weight_decay=5e-4)
    counts = torch.bincount(Y, minlength=k).float()
    sample_w = (1 / counts)[Y]
    cosine = head == "cosine"

    def logits_of(x):
        z = F.normalize(x, dim=1) @ F.normalize(W, dim=1).t() if cosine else x @ W.t()
        return scale * z + b

    t0 = time.perf_counter()
    steps = math.ceil(n / batch)
    for epoch in range(epochs):
        order = torch.multinomial(sample_w, n, replacement=True, generator=g)
        for s in range(steps):
            idx = order[s * batch : (s + 1) * batch]
            lam = rs.beta(1.0, 1.0)
            lam = max(lam, 1 - lam)
            partner = torch.randperm(len(idx), generator=g)
            x = X[idx]
            y = F.one_hot(Y[idx], k).float()
            x = lam * x + (1 - lam) * x[partner]
            y = lam * y + (1 - lam) * y[partner]
            logp = torch.log_softmax(logits_of(x), dim=1)
            loss = ((y * -torch.expm1(q * logp)).sum(1) / q).mean()
            for grp in opt.param_groups:
                grp["lr"] = lr0 * 0.5 * (1 + math.cos(math.pi * (epoch + s / steps) / epochs))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            probs = torch.cat([torch.softmax(logits_of(X[i : i + 4096]), dim=1) for i in range(0, n, 4096)])
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "torch": torch.__version__, "check": float(probs.sum())}))


if __name__ == "__main__":
    main()
