# The CoOp step of bench/prompt.ts in PyTorch (CPU), for the ratio: a CLIP text transformer with
# random weights (pre-LN blocks, causal mask, QuickGELU, EOT pooling, projection), K prompts of
# [SOT] ctx x n_ctx [name tokens] [.] [EOT] with the learned context spliced in, computed up to the
# longest EOT as the tfjs model does; CE on a batch of unit image features; backward; SGD update.
#   python3 bench/prompt_torch.py WIDTH LAYERS HEADS EMBED K N_CTX NAME_LEN BATCH REPS THREADS
# Prints one JSON line: {"median_ms": ..., "threads": ...}.
import json
import sys
import time

import torch

width, layers, heads, embed, k, n_ctx, name_len, batch, reps, threads = map(int, sys.argv[1:11])
if threads > 0:
    torch.set_num_threads(threads)
torch.manual_seed(0)
mlp = 4 * width
length = 1 + n_ctx + name_len + 2  # SOT, context, name, '.', EOT


def lin(i, o):
    return (torch.randn(i, o) / i ** 0.5, torch.zeros(o))


blocks = [dict(q=lin(width, width), k=lin(width, width), v=lin(width, width), o=lin(width, width), f1=lin(width, mlp), f2=lin(mlp, width)) for _ in range(layers)]
pos = torch.randn(length, width) * 0.01
proj = torch.randn(width, embed) / width ** 0.5
fixed = torch.randn(k, length, width) * 0.02  # SOT, name, '.', EOT embeddings (context slots overwritten)
ctx = (torch.randn(n_ctx, width) * 0.02).requires_grad_()
mask = torch.full((length, length), float('-inf')).triu(1)
features = torch.nn.functional.normalize(torch.randn(batch, embed), dim=-1)
labels = torch.randint(0, k, (batch,))
momentum = torch.zeros_like(ctx)
hd = width // heads


def ln(x):
    return torch.nn.functional.layer_norm(x, (width,))


def forward():
    x = torch.cat([fixed[:, :1], ctx.unsqueeze(0).expand(k, -1, -1), fixed[:, 1 + n_ctx:]], dim=1) + pos
    for b in blocks:
        h = ln(x)
        def heads_of(t):
            return t.view(k, length, heads, hd).transpose(1, 2)
        q = heads_of((h @ b['q'][0] + b['q'][1]) * hd ** -0.5)
        kk = heads_of(h @ b['k'][0] + b['k'][1])
        v = heads_of(h @ b['v'][0] + b['v'][1])
        a = torch.softmax(q @ kk.transpose(-1, -2) + mask, dim=-1) @ v
        x = x + (a.transpose(1, 2).reshape(k, length, width) @ b['o'][0] + b['o'][1])
        h = ln(x) @ b['f1'][0] + b['f1'][1]
        x = x + ((h * torch.sigmoid(1.702 * h)) @ b['f2'][0] + b['f2'][1])
    t = ln(x[:, -1]) @ proj
    t = torch.nn.functional.normalize(t, dim=-1)
    return torch.nn.functional.cross_entropy(100 * features @ t.T, labels)


def step():
    global momentum
    if ctx.grad is not None:
        ctx.grad = None
    loss = forward()
    loss.backward()
    with torch.no_grad():
        g = ctx.grad + 5e-4 * ctx
        momentum = 0.9 * momentum + g
        ctx.sub_(0.002 * momentum)
    return loss.item()


step()
times = []
for _ in range(reps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"median_ms": times[len(times) // 2], "threads": torch.get_num_threads()}))
