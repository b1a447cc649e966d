"""Write 3D-ResNet checkpoints under Hara et al.'s key names (kenshohara/3D-ResNets-PyTorch,
``models/resnet.py``), made from a :class:`emofuse.encoders.ResNet3D` instance."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from emofuse.encoders import ResNet3D


def to_hara(key: str) -> str:
    """ResNet3D key → Hara et al.'s name: ``stem.0`` → ``conv1``, ``stem.1`` → ``bn1``,
    ``layerX.i.convN.0`` → ``layerX.i.convN``, ``layerX.i.convN.1`` → ``layerX.i.bnN``."""
    key = re.sub(r"^stem\.0\.", "conv1.", key)
    key = re.sub(r"^stem\.1\.", "bn1.", key)
    return re.sub(
        r"^(layer\d\.\d+\.)conv(\d)\.([01])\.",
        lambda m: f"{m[1]}{'conv' if m[3] == '0' else 'bn'}{m[2]}.",
        key,
    )


def save_hara_checkpoint(model: ResNet3D, path: Path, num_classes: int = 400) -> None:
    """``{"state_dict": {"module.<hara key>": ...}}`` with a Kinetics ``fc`` head, as they ship."""
    state = {f"module.{to_hara(k)}": v.clone() for k, v in model.state_dict().items()}
    state["module.fc.weight"] = torch.randn(num_classes, model.out_channels)
    state["module.fc.bias"] = torch.randn(num_classes)
    torch.save({"epoch": 200, "arch": f"resnet-{model.depth}", "state_dict": state}, path)
