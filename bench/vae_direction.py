"""Does a VAE trained on Voronoi membranes carry the stretch direction in its latent means? [Z23]

Generates a Voronoi dataset (the study sampler: one stretched axis, e ~ U[0.5, 1]), trains
:class:`~poredesign.learn.vae.VAE3D` with Lightning on 80 % of it and prints, for the held-out
20 %:

- ``bce``: the VAE's reconstruction BCE per voxel at z = mu, against ``bce_porosity``: the BCE of
  the porosity-only guess (every voxel solid with the structure's own solid fraction), the best
  a decoder can do from the porosity alone (the ensemble is translation invariant, so knowing the
  direction without the strut positions does not lower the expected BCE);
- ``nn_pc12`` / ``nn_latent``: the share of held-out structures whose nearest training structure in
  PC1-PC2 (as the estimate stage does) / in the full latent mean has their stretch direction;
- ``probe``: a linear probe (least-squares fit of the one-hot direction on mu, argmax);
- ``chance``: the share of the most frequent direction among the held-out structures;
- ``chords``: the axis of the longest mean pore chord (geometry, no VAE): how visible the direction
  is in the structures themselves at this size.

``--augment`` trains on random circular shifts and flips of every axis (exact symmetries of the
periodic generator's distribution that keep the stretch direction). ``--latent grid`` (with
``--batch-norm --periodic --kl-warmup``) trains issue 22's grid code, whose latent descriptors
(translation-invariant statistics) take the place of mu. Examples (bench/RESULTS.md):

    uv run python bench/vae_direction.py                                  # the paper's dense code
    uv run python bench/vae_direction.py --points 8 25 --radius 3.5 --augment --epochs 100
    uv run python bench/vae_direction.py --structures 2400 --channels 16 32 --latent-dim 1024 \
        --latent grid --batch-norm --periodic --kl-warmup 8 --augment --epochs 30 --batch-size 32 \
        --lr 2e-3 --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from poredesign.characterise.estimate import nearest
from poredesign.characterise.pca import fit_pca
from poredesign.characterise.stretch import majority_share, stretch_direction
from poredesign.learn.vae import VAE3D
from poredesign.structures.sampling import draw_structure
from poredesign.structures.scans import mean_chord_lengths
from poredesign.structures.voronoi import VoronoiSampler


class Volumes(Dataset):
    """Binary volumes (n, 1, s, s, s), optionally randomly shifted and flipped per draw."""

    def __init__(self, volumes: torch.Tensor, augment: bool):
        self.volumes, self.augment = volumes, augment

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self.volumes[i]
        if self.augment:
            shifts = tuple(int(v) for v in torch.randint(0, x.shape[-1], (3,)))
            x = torch.roll(x, shifts, dims=(1, 2, 3))
            flips = [d for d in (1, 2, 3) if torch.rand(()) < 0.5]
            x = x.flip(flips) if flips else x
        return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generation-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--points", type=int, nargs=2, default=(30, 80))
    parser.add_argument("--radius", type=float, default=2.5)
    parser.add_argument("--stretch", type=float, nargs=2, default=(0.5, 1.0))
    parser.add_argument("--structures", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32, 32])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--latent", choices=["dense", "grid"], default="dense")
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--periodic", action="store_true")
    parser.add_argument("--kl-warmup", type=int, default=0)
    parser.add_argument("--seed", type=int, default=20230601)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sampler = VoronoiSampler(
        size=args.size,
        generation_size=args.generation_size,
        n_points_range=tuple(args.points),
        radius=args.radius,
        stretch_range=tuple(args.stretch),
    )
    start = time.perf_counter()
    draws = [draw_structure(sampler, args.seed, i, 20) for i in range(args.structures)]
    solid = np.stack([d.solid for d in draws])
    direction = stretch_direction(np.stack([d.params for d in draws])[:, 2:5])
    n_train = int(0.8 * len(solid))
    train, test = np.arange(n_train), np.arange(n_train, len(solid))
    print(f"generated {len(solid)} in {time.perf_counter() - start:.0f} s", flush=True)

    pl.seed_everything(args.seed, verbose=False)
    volumes = torch.as_tensor(solid, dtype=torch.float32).unsqueeze(1)
    model = VAE3D(
        input_size=args.size,
        channels=args.channels,
        hidden=args.hidden,
        latent_dim=args.latent_dim,
        beta=args.beta,
        lr=args.lr,
        latent=args.latent,
        batch_norm=args.batch_norm,
        periodic=args.periodic,
        kl_warmup=args.kl_warmup,
    )
    loader = DataLoader(
        Volumes(volumes[train], args.augment), batch_size=args.batch_size, shuffle=True
    )
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, loader)
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        outputs, _ = model.reconstruction_outputs(volumes[test])
    mu = model.latent_descriptors(solid)  # the latent means of a dense code
    bce_porosity = outputs["bce_porosity_only"].numpy()  # the Bernoulli entropy at each porosity
    scores = fit_pca(mu[train]).transform(mu)
    nn_pc12 = direction[train][nearest(scores[train, :2], scores[test, :2])]
    nn_latent = direction[train][nearest(mu[train], mu[test])]
    design = np.column_stack([mu, np.ones(len(mu))])
    weights = np.linalg.lstsq(design[train], np.eye(4)[direction[train]], rcond=None)[0]
    probe = np.argmax(design[test] @ weights, axis=1)
    chords = np.array([np.argmax(mean_chord_lengths(~s)) for s in solid[test]])
    truth = direction[test]
    print(
        f"train {seconds:.0f} s ({args.epochs} epochs); held-out {len(test)}: "
        f"bce {float(outputs['bce'].mean()):.4f} bce_porosity {bce_porosity.mean():.4f} "
        f"blurry {float(outputs['blurry'].mean()):.3f} "
        f"nn_pc12 {np.mean(nn_pc12 == truth):.2f} nn_latent {np.mean(nn_latent == truth):.2f} "
        f"probe {np.mean(probe == truth):.2f} chance {majority_share(truth):.2f} "
        f"chords {np.mean(chords == truth):.2f}"
    )


if __name__ == "__main__":
    main()
