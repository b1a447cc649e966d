"""Feature normalisation fitted on the training split and saved with the model (global
mean-variance normalisation, Kaldi's ``compute-cmvn-stats`` over a corpus, ESPnet's
``GlobalMVN``; Hugging Face feature extractors keep theirs in ``preprocessor_config.json``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

PREPROCESSOR_NAME = "preprocessor_config.json"


class FeatureNormalizer(nn.Module):
    """Per-feature standardisation ``(x − mean) / std`` with statistics fitted on training
    features, streamed over an iterable of batches; masked (padded) steps never enter them.

    Fit once on the training split (:meth:`fit`, or :meth:`update` batch by batch), save it next
    to the model (:meth:`save_pretrained` writes ``preprocessor_config.json`` into the model's
    folder) and load it back (:meth:`from_pretrained`) so evaluation and prediction apply the
    same statistics. Calling the module never changes them.

    Args:
        num_features: F, the size of the feature axis.
        feature_axis: the axis of F, counted from the end of a step's features (negative):
            ``-1`` for filter banks (B, T, 240) (``KaldiFbankDeltas``) and VGGish examples
            (B, T, 1, 96 frames, 64 bands); ``-2`` for mel chunks (B, T, 1, 128 mels, 32
            frames) and spectrogram images (B, T, 1, frequency, time).
        eps: floor of the standard deviation (a constant feature stays finite).

    Inputs:
        features: (*lead, ...) with F on ``feature_axis``; mask: optional bool of shape
        ``lead`` (e.g. (B, T)), True = a valid step.
    Returns:
        the normalised features, same shape and device; zeros at masked steps.

    Raises:
        ValueError: features without F on ``feature_axis``, a mask that does not match their
            leading axes, non-finite values in valid steps (fitting), no valid step to fit on,
            or normalising before fitting.
    """

    count: Tensor
    mean: Tensor
    m2: Tensor

    def __init__(self, num_features: int, *, feature_axis: int = -1, eps: float = 1e-5) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features: expected a positive size, got {num_features}")
        if feature_axis >= 0:
            raise ValueError(
                f"feature_axis: expected an axis counted from the end (-1, -2, ...), got "
                f"{feature_axis}"
            )
        self.num_features, self.feature_axis, self.eps = num_features, feature_axis, eps
        # float64 running moments (Chan et al.'s parallel update), saved with the model
        self.register_buffer("count", torch.zeros(num_features, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(num_features, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(num_features, dtype=torch.float64))

    @property
    def fitted(self) -> bool:
        return bool(self.count.min() > 0)

    @property
    def std(self) -> Tensor:
        """(F,) population standard deviation of the fitted features, floored at ``eps``."""
        return (self.m2 / self.count.clamp(min=1)).sqrt().clamp(min=self.eps)

    def _flatten(self, features: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """(M, F) values and (M, F) validity, the feature axis last."""
        if features.dim() < -self.feature_axis or (
            features.shape[self.feature_axis] != self.num_features
        ):
            raise ValueError(
                f"features: expected {self.num_features} features on axis {self.feature_axis}, "
                f"got shape {tuple(features.shape)}"
            )
        valid = torch.ones((), dtype=torch.bool, device=features.device)
        if mask is not None:
            lead = mask.dim()
            if (
                mask.dtype != torch.bool
                or tuple(mask.shape) != tuple(features.shape[:lead])
                or (lead > features.dim() + self.feature_axis)
            ):
                raise ValueError(
                    f"mask: expected bool of the leading shape of features "
                    f"{tuple(features.shape)}, e.g. (B, T), got {tuple(mask.shape)} {mask.dtype}"
                )
            valid = mask.reshape(*mask.shape, *[1] * (features.dim() - lead))
        valid = valid.expand_as(features)
        values = features.movedim(self.feature_axis, -1).reshape(-1, self.num_features)
        return values, valid.movedim(self.feature_axis, -1).reshape(-1, self.num_features)

    @torch.no_grad()
    def update(self, features: Tensor, mask: Tensor | None = None) -> None:
        """Add a batch of training features to the statistics (masked steps left out)."""
        values, valid = self._flatten(features, mask)
        values = values.to(device=self.mean.device, dtype=torch.float64)
        valid = valid.to(self.mean.device)
        count = valid.sum(0, dtype=torch.float64)
        if not count.any():
            return
        total = torch.where(valid, values, 0.0).sum(0)
        if not total.isfinite().all():
            raise ValueError("features: NaN or inf in a valid step; the statistics would be NaN")
        mean = total / count.clamp(min=1)
        m2 = torch.where(valid, (values - mean) ** 2, 0.0).sum(0)
        merged = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / merged.clamp(min=1)
        self.m2 += m2 + delta**2 * self.count * count / merged.clamp(min=1)
        self.count.copy_(merged)

    def fit(self, batches: Iterable[Tensor | tuple[Tensor, Tensor]]) -> FeatureNormalizer:
        """Fit the statistics afresh on ``batches`` (features, or (features, mask) pairs, e.g.
        a front-end's ``batch`` outputs over the training split). Returns ``self``."""
        for buffer in (self.count, self.mean, self.m2):
            buffer.zero_()
        for batch in batches:
            features, mask = batch if isinstance(batch, (tuple, list)) else (batch, None)
            self.update(features, mask)
        if not self.fitted:
            raise ValueError("batches: no valid step to fit the feature statistics on")
        return self

    def forward(self, features: Tensor, mask: Tensor | None = None) -> Tensor:
        if not self.fitted:
            raise ValueError(
                "FeatureNormalizer: not fitted; call fit() on the training features or load "
                "one with from_pretrained()"
            )
        self._flatten(features, mask)  # validates the layout
        shape = [self.num_features] + [1] * (-self.feature_axis - 1)
        mean = self.mean.to(features.device, features.dtype).view(shape)
        std = self.std.to(features.device, features.dtype).view(shape)
        out = (features - mean) / std
        if mask is None:
            return out
        valid = mask.reshape(*mask.shape, *[1] * (features.dim() - mask.dim()))
        return torch.where(valid, out, 0.0)  # select: padding (even NaN) becomes zeros

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``preprocessor_config.json`` (settings and statistics, plain JSON) into
        ``directory``, e.g. the folder the model was saved to. Returns its path.

        Raises:
            ValueError: not fitted.
        """
        values = self.to_dict()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / PREPROCESSOR_NAME
        tmp = path.with_suffix(".json.tmp")  # never leave a half-written file in place
        tmp.write_text(json.dumps(values) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> FeatureNormalizer:
        """Load what :meth:`save_pretrained` wrote into ``directory``.

        Raises:
            FileNotFoundError: no ``preprocessor_config.json`` there.
            ValueError: the file holds something else or is inconsistent.
        """
        path = Path(directory) / PREPROCESSOR_NAME
        if not path.is_file():
            raise FileNotFoundError(f"directory: no {PREPROCESSOR_NAME} in {directory}")
        return cls.from_dict(json.loads(path.read_text()), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Settings and statistics as plain JSON values (what :meth:`save_pretrained` writes).

        Raises:
            ValueError: not fitted.
        """
        if not self.fitted:
            raise ValueError("FeatureNormalizer: not fitted; nothing to save")
        return {
            "type": type(self).__name__,
            "num_features": self.num_features,
            "feature_axis": self.feature_axis,
            "eps": self.eps,
            "count": self.count.tolist(),
            "mean": self.mean.tolist(),
            "m2": self.m2.tolist(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "values") -> FeatureNormalizer:
        """The normalizer :meth:`to_dict` described; ``source`` names it in errors.

        Raises:
            ValueError: ``values`` hold something else or are inconsistent.
        """
        if not isinstance(values, Mapping) or values.get("type") != cls.__name__:
            kind = values.get("type") if isinstance(values, Mapping) else type(values).__name__
            raise ValueError(f"directory: {source} holds a {kind}, not {cls.__name__}")
        normalizer = cls(
            values["num_features"], feature_axis=values["feature_axis"], eps=values["eps"]
        )
        for name in ("count", "mean", "m2"):
            stat = torch.tensor(values[name], dtype=torch.float64)
            if stat.shape != (normalizer.num_features,):
                raise ValueError(
                    f"directory: {source} has {tuple(stat.shape)} {name}, expected "
                    f"({normalizer.num_features},)"
                )
            getattr(normalizer, name).copy_(stat)
        return normalizer


__all__ = ["PREPROCESSOR_NAME", "FeatureNormalizer"]
