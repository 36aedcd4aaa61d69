#!/usr/bin/python3
"""PyTorch reference for the train node's linear heads (linear, cosine, text-init).

Reads the problems scripts/train-reference.ts writes (features, labels, weights, the initial
flat parameter vector and every random draw Sieve's seeded RNG made: batch indices, mixup λ and
partners, the learning rate of each step), trains each head with torch.optim.SGD in float32, and
writes the final flat parameter vector and the loss of every step.

    /usr/bin/python3 scripts/train-reference.py problems.json results.json
"""
import json
import sys

import torch
import torch.nn.functional as F


def train(problem):
    torch.set_num_threads(1)
    n, d, k = problem["n"], problem["d"], problem["k"]
    X = torch.tensor(problem["features"], dtype=torch.float32).reshape(n, d)
    labels = torch.tensor(problem["labels"], dtype=torch.long)
    sw = torch.tensor(problem["sample_weights"], dtype=torch.float32)
    head = problem["head"]
    flat = problem["init"]
    W = torch.tensor(flat[: k * d], dtype=torch.float32).reshape(k, d).requires_grad_(True)
    params = [W]
    at = k * d
    b = None
    if head["bias"]:
        b = torch.tensor(flat[at : at + k], dtype=torch.float32).requires_grad_(True)
        params.append(b)
        at += k
    t = None
    if head["learn_scale"]:
        t = torch.tensor([flat[at]], dtype=torch.float32).requires_grad_(True)
        params.append(t)
    opt = torch.optim.SGD(params, lr=0.0, momentum=problem["momentum"], weight_decay=problem["weight_decay"])

    losses = []
    for step in problem["steps"]:
        idx = torch.tensor(step["indices"], dtype=torch.long)
        y = F.one_hot(labels[idx], k).to(torch.float32)
        x = X[idx]
        w = sw[idx]
        if step["lambda"] is not None:
            lam = step["lambda"]
            partner = torch.tensor(step["partner"], dtype=torch.long)
            x = lam * x + (1 - lam) * x[partner]
            y = lam * y + (1 - lam) * y[partner]
            w = lam * w + (1 - lam) * w[partner]
        if head["kind"] == "cosine":
            z = F.normalize(x, dim=1) @ F.normalize(W, dim=1).t()
        else:
            z = x @ W.t()
        scale = t.exp() if t is not None else head["scale"]
        logits = scale * z
        if b is not None:
            logits = logits + b
        logp = torch.log_softmax(logits, dim=1)
        if problem["loss"]["kind"] == "ce":
            per = -(y * logp).sum(1)
        else:
            q = problem["loss"]["q"]
            per = (y * -torch.expm1(q * logp)).sum(1) / q
        loss = (per * w).mean()
        for g in opt.param_groups:
            g["lr"] = step["lr"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    out = [W.detach().reshape(-1)]
    if b is not None:
        out.append(b.detach())
    if t is not None:
        out.append(t.detach())
    return {"name": problem["name"], "params": torch.cat(out).tolist(), "losses": losses}


def main():
    problems = json.load(open(sys.argv[1]))
    results = {"torch": torch.__version__, "results": [train(p) for p in problems]}
    json.dump(results, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
