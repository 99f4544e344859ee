"""The training loop shared by the three demo detectors.

Reproducible from a seed: the model's initialisation uses ``torch.manual_seed(seed)`` and batch
``i`` is always scenes ``i * batch_size ...`` of the shapes stream with that seed. Progress lines
report iterations, loss, images/s; a validation split (its own seed) is evaluated periodically and
the held-out test split (another seed, never trained on) once at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from detviewer.datasets.shapes import ShapeScene, ShapesConfig
from detviewer.detectors.demo import DEMO_INPUT_SIZE, build_demo_model, save_checkpoint
from detviewer.errors import DetviewerError
from detviewer.training.data import fixed_split, training_batch
from detviewer.training.evaluate import Predictor, evaluate_predictor

__all__ = ["TrainConfig", "DEFAULTS", "train"]


@dataclass
class TrainConfig:
    """One training run. ``seed`` drives both the initialisation and the training scenes."""

    arch: str
    out: Path
    seed: int = 1
    iterations: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    eval_every: int = 500
    log_every: int = 20
    val_seed: int = 2001
    val_count: int = 100
    test_seed: int = 1001
    test_count: int = 300
    image_size: int = 256
    threads: int = 2
    workers: int = 1  # processes rendering the next batches while the model trains (0: in the loop)
    backbone_from: str | None = None  # demo-yolo only: start from this demo-frcnn checkpoint's backbone
    freeze_backbone: bool = False  # ... and keep those layers fixed (about twice as fast per image)


#: Per-architecture defaults (the settings the shipped checkpoints were trained with).
DEFAULTS: dict[str, dict] = {
    "demo-frcnn": {"iterations": 1800, "batch_size": 8, "lr": 1e-3},
    "demo-ssd": {"iterations": 2500, "batch_size": 16, "lr": 1e-3},
    "demo-yolo": {"iterations": 3200, "batch_size": 16, "lr": 1.5e-3},
}


class TrainingError(DetviewerError):
    """A training run was asked for something impossible (e.g. testing on its training seed)."""


def _lr_factor(it: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine decay to 2 % of the base rate."""
    if it < warmup:
        return (it + 1) / warmup
    progress = (it - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))


class _Batches(torch.utils.data.Dataset):
    """Batch ``i`` of the training stream (a pure function of the seed and i, whoever renders it)."""

    def __init__(self, seed: int, batch_size: int, config: ShapesConfig, count: int) -> None:
        self.seed, self.batch_size, self.config, self.count = seed, batch_size, config, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, iteration: int):
        return training_batch(self.seed, iteration, self.batch_size, self.config)


def _worker_init(_worker_id: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _step_and_predict(arch: str, model: torch.nn.Module) -> tuple[Callable, Callable]:
    """(losses(images, targets) -> dict, predict(images) -> list[dict]) for one architecture."""
    if arch == "demo-yolo":
        from detviewer.detectors.yolo_v1 import predict_batch
        from detviewer.training.yolo_loss import yolo_v1_loss

        def losses(images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
            batch, scales = model.prepare(images)
            scaled = [{"boxes": t["boxes"] * torch.tensor([s[1], s[0], s[1], s[0]]), "labels": t["labels"]}
                      for t, s in zip(targets, scales)]
            return yolo_v1_loss(model(batch), scaled, model.input_size, model.boxes_per_cell, class_loss="ce",
                                small_box_weight=True)

        return losses, lambda images: predict_batch(model, images)
    return (lambda images, targets: model(images, targets)), (lambda images: model(images))


def _build_model(cfg: TrainConfig, log: Callable[[str], None]) -> torch.nn.Module:
    model = build_demo_model(cfg.arch)
    if cfg.backbone_from:
        if cfg.arch != "demo-yolo":
            raise TrainingError(f"--backbone-from applies to demo-yolo only, not {cfg.arch}.")
        from detviewer.training.transfer import init_yolo_backbone_from_frcnn

        copied = init_yolo_backbone_from_frcnn(model, cfg.backbone_from)
        log(f"backbone: {copied} tensors from {cfg.backbone_from}" + (" (frozen)" if cfg.freeze_backbone else ""))
        if cfg.freeze_backbone:
            model.freeze_backbone()
    elif cfg.freeze_backbone:
        raise TrainingError("--freeze-backbone needs --backbone-from (a random backbone would stay random).")
    return model


def _batches(cfg: TrainConfig, data_cfg: ShapesConfig):
    return torch.utils.data.DataLoader(
        _Batches(cfg.seed, cfg.batch_size, data_cfg, cfg.iterations), batch_size=None, shuffle=False,
        num_workers=cfg.workers, prefetch_factor=4 if cfg.workers else None, worker_init_fn=_worker_init,
        # spawn, not fork: a child forked while torch's or OpenCV's threads hold a lock waits forever
        multiprocessing_context="spawn" if cfg.workers else None)


class _Progress:
    """Running loss terms between two log lines, and the line itself."""

    def __init__(self, cfg: TrainConfig, log: Callable[[str], None]) -> None:
        self.cfg, self.log = cfg, log
        self.start = self.last = time.perf_counter()
        self.running: dict[str, float] = {}
        self.seen = 0

    def add(self, losses: dict) -> None:
        for k, v in losses.items():
            self.running[k] = self.running.get(k, 0.0) + float(v.detach())
        self.seen += 1

    def report(self, it: int, lr: float) -> None:
        cfg, now = self.cfg, time.perf_counter()
        speed = self.seen * cfg.batch_size / max(now - self.last, 1e-9)
        terms = " ".join(f"{k.replace('loss_', '')} {v / self.seen:.3f}" for k, v in self.running.items())
        eta = (now - self.start) / (it + 1) * (cfg.iterations - it - 1)
        self.log(f"iter {it + 1}/{cfg.iterations} loss {sum(self.running.values()) / self.seen:.3f} ({terms}) "
                 f"{speed:.1f} img/s lr {lr:.2e} elapsed {(now - self.start) / 60:.1f} min eta {eta / 60:.1f} min")
        self.running, self.seen, self.last = {}, 0, now


def _finish(cfg: TrainConfig, model: torch.nn.Module, predict: Predictor, val_scenes: list[ShapeScene], meta: dict,
            data_cfg: ShapesConfig, timing: tuple[float, float], log: Callable[[str], None]) -> dict:
    """Final validation and held-out test numbers into ``meta``; the checkpoint saved."""
    start, cpu_start = timing
    train_seconds = time.perf_counter() - start
    # CPU time of the training iterations: the wall time it needs on an otherwise idle machine
    meta["train_cpu_seconds"] = round(time.process_time() - cpu_start, 1)
    model.eval()
    meta["val"] = evaluate_predictor(predict, val_scenes)
    log("val (final): " + " ".join(f"{k} {v:.3f}" for k, v in meta["val"].items()))
    test_scenes = fixed_split(cfg.test_seed, cfg.test_count, data_cfg)
    meta["test"] = evaluate_predictor(predict, test_scenes)
    meta["test_split"] = {"seed": cfg.test_seed, "count": cfg.test_count, "image_size": cfg.image_size}
    meta["train_seconds"] = round(train_seconds, 1)
    log(f"held-out test ({cfg.test_count} images, seed {cfg.test_seed}): "
        + " ".join(f"{k} {v:.3f}" for k, v in meta["test"].items()))
    save_checkpoint(cfg.out, cfg.arch, model, meta)
    log(f"saved {cfg.out} after {train_seconds / 60:.1f} min of training "
        f"({meta['train_cpu_seconds'] / 60:.1f} CPU min, {cfg.threads} thread(s))")
    return meta


def train(cfg: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Train, save the checkpoint to ``cfg.out`` (also after each evaluation) and return its meta."""
    if cfg.seed in (cfg.val_seed, cfg.test_seed):
        raise TrainingError(f"training seed {cfg.seed} must differ from the validation and test seeds.")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = _build_model(cfg, log)
    step_losses, predict = _step_and_predict(cfg.arch, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: _lr_factor(it, cfg.warmup, cfg.iterations))
    data_cfg = ShapesConfig(size=cfg.image_size)
    val_scenes = fixed_split(cfg.val_seed, cfg.val_count, data_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{cfg.arch}: {n_params / 1e6:.2f}M parameters, {cfg.iterations} iterations of {cfg.batch_size} "
        f"images ({cfg.image_size} px), seed {cfg.seed}")
    meta = {"input_size": DEMO_INPUT_SIZE[cfg.arch], "train_image_size": cfg.image_size, "params": n_params,
            "train": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}}
    progress = _Progress(cfg, log)
    timing = (progress.start, time.process_time())
    for it, (images, targets) in enumerate(_batches(cfg, data_cfg)):
        model.train()
        losses = step_losses(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise TrainingError(f"{cfg.arch}: the loss became {loss.item()} at iteration {it}; lower --lr.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        schedule.step()
        progress.add(losses)
        if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iterations:
            progress.report(it, optimizer.param_groups[0]["lr"])
        if (it + 1) % cfg.eval_every == 0 and it + 1 < cfg.iterations:
            model.eval()
            meta["val"] = evaluate_predictor(predict, val_scenes)
            log(f"val @ {it + 1}: " + " ".join(f"{k} {v:.3f}" for k, v in meta["val"].items()))
            save_checkpoint(cfg.out, cfg.arch, model, meta)
            progress.last = time.perf_counter()
    return _finish(cfg, model, predict, val_scenes, meta, data_cfg, timing, log)
