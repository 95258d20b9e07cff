"""Training throughput of the SPEC 3 models at the papers' input sizes: samples per second.

    uv run python bench/train.py                          # every model, CPU (or CUDA if present)
    uv run python bench/train.py --models diffusivity --device cuda --batch 16 --steps 20
    uv run python bench/train.py --loader                 # also: data-loader views/s from zarr

One training step = forward, loss, backward and optimizer step of the model's own loss and optimizer
(the paper settings; the pVAE in its joint phase, the transfer regressor with its frozen encoder),
on random binary volumes held in memory, so the number is the model's, not the data pipeline's.
bf16 autocast on CUDA, fp32 on the CPU. ``--channels-last`` stores activations as
``channels_last_3d``. ``--loader`` times the lazy zarr pipeline (read one 192^3 structure per
chunk, decompress, 2x2x2 sum-pool, augment) that feeds the diffusivity CNN, per worker process.
Prints a table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from poredesign.devices import autocast, synchronize, torch_device
from poredesign.jsonable import write_json
from poredesign.learn import (
    VAE3D,
    DiffusivityCNN,
    PermeabilityCNN,
    PropertyVAE,
    TransferRegressor,
)

#: name -> (constructor, paper input edge, paper batch, input scale)
MODELS = {
    "diffusivity": (lambda: DiffusivityCNN(96), 96, 16, "centered"),
    "permeability": (lambda: PermeabilityCNN(100), 100, 16, "centered"),
    "vae": (lambda: VAE3D(128), 128, 64, "binary"),
    "pvae": (lambda: PropertyVAE(100), 100, 16, "binary"),
    "transfer": (lambda: TransferRegressor(128), 128, 16, "binary"),
}


def _optimizer(model):
    opt = model.configure_optimizers()
    return opt["optimizer"] if isinstance(opt, dict) else opt


def _loss(name, model, x, y):
    if name in ("vae",):
        return model.losses(x)["loss"]
    if name == "pvae":
        return model.losses((x, y))["loss"]
    return F.mse_loss(model(x).float(), y) + model.regularization()


def bench_model(
    name: str,
    device: torch.device,
    batch: int,
    steps: int,
    channels_last: bool,
    compile_model: bool,
) -> dict:
    make, edge, paper_batch, scale = MODELS[name]
    torch.manual_seed(0)
    model = make().to(device)
    n_out = len(getattr(model, "targets", [])) or 1
    if name == "pvae":
        model.phase = "joint"
        model.set_target_range([0.0] * n_out, [1.0] * n_out)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    step_model = torch.compile(model) if compile_model else model
    x = (torch.rand(batch, 1, edge, edge, edge, device=device) < 0.5).float()
    if scale == "centered":
        x = x - 0.5
    x = x.contiguous(memory_format=fmt)
    y = torch.rand(batch, n_out, device=device)
    opt = _optimizer(model)
    model.train()

    def step():
        with autocast(device):
            loss = _loss(name, step_model, x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    step()  # warm-up (allocator, cuDNN autotuning, compilation)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "model": name,
        "class": type(model).__name__,
        "input": f"{edge}^3",
        "batch": batch,
        "paper_batch": paper_batch,
        "steps": steps,
        "weights": sum(p.numel() for p in model.parameters()),
        "seconds_per_step": seconds / steps,
        "samples_per_s": batch * steps / seconds,
        "loss": loss.item(),
        "channels_last": channels_last,
        "compiled": compile_model,
        "peak_gpu_mem_gb": (
            torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        ),
    }


def bench_loader(n: int = 24, size: int = 192, workers: int = 0, batch: int = 16) -> dict:
    """Views per second through PoreDataModule (zarr read + 2x2x2 pooling + augmentation)."""
    from poredesign.learn import PoreDataModule
    from poredesign.store import write_structures
    from poredesign.structures import spinodoid_batch

    with tempfile.TemporaryDirectory() as tmp:
        vols = spinodoid_batch(
            size,
            np.tile([0.1, 0.12, 0.15], (n, 1)),
            np.full(n, 0.5),
            seeds=list(range(n)),
            device="cpu",
        ).numpy()
        path = Path(tmp) / "structures.zarr"
        write_structures(path, list(vols), np.zeros((n, 1)), ["p"], generator="spinodoid")
        dm = PoreDataModule(
            path,
            None,
            {"targets": [], "axes": [0, 1, 2], "pool": True, "split": [1.0, 0.0, 0.0]},
            batch_size=batch,
            num_workers=workers,
        )
        dm.setup()
        loader = dm.train_dataloader()
        start, views = time.perf_counter(), 0
        for x, _ in loader:
            views += x.shape[0]
        seconds = time.perf_counter() - start
    return {
        "structures": n,
        "size": size,
        "workers": workers,
        "views": views,
        "views_per_s": views / seconds,
        "input": f"{size // 2}^3 pooled",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="batch size (default: the paper's on CUDA, 4 on the CPU)",
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20 / 2)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--loader", action="store_true", help="also time the zarr data loader")
    parser.add_argument("--loader-workers", type=int, nargs="+", default=[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = torch_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    steps = args.steps or (20 if device.type == "cuda" else 2)
    where = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}"
    )
    print(f"# training throughput on {where}; torch {torch.__version__}")
    rows = []
    for name in args.models:
        batch = args.batch or (MODELS[name][2] if device.type == "cuda" else 4)
        row = bench_model(name, device, batch, steps, args.channels_last, args.compile)
        rows.append(row)
        print(
            f"{row['model']:13s} {row['class']:18s} {row['input']:>6s} batch {row['batch']:3d} "
            f"{row['weights']:>12,d} w  {row['seconds_per_step']:8.3f} s/step  "
            f"{row['samples_per_s']:9.2f} samples/s",
            flush=True,
        )
    loaders = []
    if args.loader:
        for workers in args.loader_workers:
            row = bench_loader(workers=workers)
            loaders.append(row)
            print(
                f"loader: {row['views']} views of {row['input']} from {row['size']}^3 zarr, "
                f"{workers} workers: {row['views_per_s']:.1f} views/s",
                flush=True,
            )
    if args.json:
        write_json(args.json, {"device": where, "models": rows, "loader": loaders})


if __name__ == "__main__":
    main()
