"""From a raw clip to a model's inputs: the paper's pipeline of each registered model, its
tokenizer and feature statistics saved beside the model (after Hugging Face processors and
their ``preprocessor_config.json``).

::

    pipeline = emofuse.transforms.for_model("mer_sem_mbt_tiny")
    sample = pipeline(audio=waveform, sample_rate=44_100, video=faces, fps=25.0, text="hi")
    batch = pipeline.collate([sample, ...])          # emofuse.data.collate (+ fixed lengths)
    model(**{k: v for k, v in batch.items() if k != "id"})

=============================  ===============================  ==============================
model                          audio                            video / text
=============================  ===============================  ==============================
``mer_sem_mbt``                VGGish log-mel examples          one face per 0.96 s window
                               (Xia et al. 2022, sec. 3.1.2)    (aligned with the examples),
                                                                ImageNet-normalised; BERT
                                                                WordPiece ids
``av_attention_fusion``        N one-second log-spectrogram     N snippets of k faces, uniform
                               segments (Mocanu et al. 2023)    over the clip (Kinetics stats)
``colearning_transformer``     80 log-mel + Δ + ΔΔ, 10 ms,      faces at 3 fps, ImageNet stats
                               global mean/variance normalised
                               (statistics fitted: :meth:`fit`)
``emotion_query_transformer``  128-band mel chunks of 32        faces at 1 fps, Dai et al.'s
                               frames (Dai et al. 2021)         normalisation; ALBERT ids
                                                                (≤ ``text_max_len``)
``mcr``                        pre-extracted feature sequences (COVAREP / Facet / GloVe, as
                               :class:`emofuse.data.MMSA` and :class:`emofuse.data.CSD` give
                               them), cut to ``seq_lens``; raw media are refused
=============================  ===============================  ==============================

The ``_tiny`` variants get the same pipeline at their sizes, with the tokenizer shipped for
their text encoders (:mod:`emofuse.encoders.tokenizer`).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from emofuse.config import ModelConfig
from emofuse.encoders.tokenizer import TOKENIZER_FILES, load_tokenizer, write_tokenizer_files
from emofuse.hub import CONFIG_NAME, PathLike, atomic_write
from emofuse.models.av_attention_fusion import AVAttentionFusionConfig
from emofuse.models.base import EmotionModel
from emofuse.models.colearning_transformer import ColearningTransformerConfig
from emofuse.models.emotion_query_transformer import EmotionQueryTransformerConfig
from emofuse.models.mcr import MCRConfig
from emofuse.models.mer_sem_mbt import MerSemMbtConfig
from emofuse.registry import get_entry, list_models, read_saved_config, resolve_saved_class
from emofuse.transforms.audio import AudioInput
from emofuse.transforms.faces import (
    DAI2021_FACE_MEAN,
    DAI2021_FACE_STD,
    FaceCrops,
    check_frames,
)
from emofuse.transforms.frame_sampling import face_frame_indices, frame_indices_per_second
from emofuse.transforms.kaldi_fbank import KaldiFbankDeltas
from emofuse.transforms.mel_chunks import MelSpectrogramChunks
from emofuse.transforms.normalization import PREPROCESSOR_NAME, FeatureNormalizer
from emofuse.transforms.snippet_sampler import SnippetSampler
from emofuse.transforms.spectrogram_segments import SpectrogramSegments
from emofuse.transforms.vggish_frontend import VGGishFrontEnd

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PIPELINE_TYPE = "InputPipeline"
MODALITIES = ("audio", "video", "text")
# longest text any BERT-like encoder here takes (a tokenizer without a limit gets this one)
MAX_TEXT_TOKENS = 512
ConfigT = TypeVar("ConfigT", bound=ModelConfig)


# -- one step per modality --------------------------------------------------------------------
class Step(ABC):
    """Turns one modality of a raw clip into the model's (T, ...) input, time first.

    Attributes:
        rate_name: the keyword that carries the input's rate (``"sample_rate"``, ``"fps"``),
            or ``None`` when it takes none.
        num_features, feature_axis: the feature axis :class:`FeatureNormalizer` standardises
            (``None``: this step's output is not normalised).
    """

    rate_name: str | None = None
    num_features: int | None = None
    feature_axis: int = -1

    @abstractmethod
    def __call__(self, value: Any, rate: Any, context: StepContext) -> Tensor:
        """(T, ...) for one clip; ``context`` holds the clip's other steps and the mode."""


@dataclass
class StepContext:
    """What a step may need beyond its own input: the steps computed before it (video frames
    align with the audio examples), the mode (training augments) and a generator."""

    outputs: dict[str, Tensor] = field(default_factory=dict)
    training: bool = False
    generator: torch.Generator | None = None


class WaveformStep(Step):
    """A waveform → an audio front-end's (T, ...) steps (any rate, mono or multi-channel:
    the front-end resamples and averages, :mod:`emofuse.transforms.audio`).

    Args:
        front: a front-end taking ``(waveform, sample_rate)``; ``batched`` when it returns a
            batch of one with its mask (:class:`~emofuse.transforms.VGGishFrontEnd`).
        num_features, feature_axis: the axis of its features (for normalisation).
    """

    rate_name = "sample_rate"

    def __init__(
        self, front: nn.Module, *, num_features: int, feature_axis: int, batched: bool = False
    ) -> None:
        self.front, self.batched = front, batched
        self.num_features, self.feature_axis = num_features, feature_axis

    def __call__(self, value: AudioInput, rate: int | None, context: StepContext) -> Tensor:
        if isinstance(value, str | os.PathLike):
            raise ValueError(
                f"audio: expected samples (a Waveform, or a (C, N) / (N,) tensor with "
                f"sample_rate=), got the path {os.fspath(value)!r}; read it with "
                "emofuse.transforms.load_audio(path) first"
            )
        with torch.no_grad():
            if self.batched:
                steps, mask = self.front(value, rate)
                return steps[0][mask[0]]
            return self.front(value, rate)


class FeatureSequenceStep(Step):
    """Pre-extracted features (T, dim) → float32 (min(T, max_steps), dim): what ``mcr`` takes.

    Args:
        modality: its name, for errors; dim: features per step; max_steps: the config's fixed
            length (longer sequences are cut, as the benchmark releases pad and cut them).
        meaning: what the features are (for the error on raw media).
    """

    def __init__(self, modality: str, dim: int, max_steps: int, meaning: str) -> None:
        self.modality, self.dim, self.max_steps, self.meaning = modality, dim, max_steps, meaning
        self.num_features = dim

    def __call__(self, value: Any, rate: Any, context: StepContext) -> Tensor:
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if (
            not isinstance(value, Tensor)
            or value.dim() != 2
            or value.shape[1] != self.dim
            or not value.is_floating_point()
        ):
            got = (
                f"{tuple(value.shape)} {value.dtype}"
                if isinstance(value, Tensor)
                else type(value).__name__
            )
            raise ValueError(
                f"{self.modality}: expected pre-extracted features (T, {self.dim}) float "
                f"({self.meaning}; emofuse.data.MMSA and emofuse.data.CSD yield them), got "
                f"{got}; this model takes no raw {self.modality}"
            )
        return value[: self.max_steps].float()


class FaceFramesStep(Step):
    """uint8 (T, H, W, 3) RGB face crops at ``fps`` → (T', 3, size, size) images.

    Args:
        crops: resize and normalisation (:class:`~emofuse.transforms.faces.FaceCrops`).
        frames_per_second: sample at this rate (Le et al.: 1, Takashima et al.: 3); ``None``
            samples one face per 0.96 s window, as many windows as the clip's audio examples
            when audio is given (Xia et al.: random in the window in training, else centred).
    """

    rate_name = "fps"

    def __init__(self, crops: FaceCrops, *, frames_per_second: float | None) -> None:
        self.crops, self.frames_per_second = crops, frames_per_second

    def __call__(self, value: Any, rate: Any, context: StepContext) -> Tensor:
        frames = check_frames(value)
        fps = _positive_rate(rate, "fps")
        if self.frames_per_second is None:
            audio = context.outputs.get("audio")
            windows = len(audio) if audio is not None and len(audio) else None
            indices = face_frame_indices(
                len(frames), fps, windows, training=context.training, generator=context.generator
            )
        else:
            indices = frame_indices_per_second(
                len(frames), fps, frames_per_second=self.frames_per_second
            )
        return self.crops(frames, indices.to(frames.device))


class SnippetsStep(Step):
    """uint8 (T, H, W, 3) RGB face crops → (N, 3, k, size, size) snippets spread over the
    clip (Mocanu et al. 2023; :class:`~emofuse.transforms.SnippetSampler`, augmented in
    training)."""

    rate_name = "fps"

    def __init__(self, sampler: SnippetSampler) -> None:
        self.sampler = sampler

    def __call__(self, value: Any, rate: Any, context: StepContext) -> Tensor:
        frames = check_frames(value)
        if rate is not None:
            _positive_rate(rate, "fps")  # snippets span the clip whatever its rate
        self.sampler.train = context.training
        return self.sampler(frames.permute(0, 3, 1, 2), generator=context.generator)


class TokensStep(Step):
    """A text → (L,) int64 token ids of the tokenizer matching the text encoder, ``[CLS]`` …
    ``[SEP]``, cut to ``max_length`` (the closing ``[SEP]`` kept)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, value: Any, rate: Any, context: StepContext) -> Tensor:
        if not isinstance(value, str):
            raise ValueError(
                f"text: expected the transcript as a str (it is tokenized here), got "
                f"{type(value).__name__}"
            )
        ids = self.tokenizer(value, truncation=True, max_length=self.max_length)["input_ids"]
        return torch.tensor(ids, dtype=torch.long)


def _positive_rate(rate: Any, name: str) -> float:
    if rate is None:
        raise ValueError(f"{name}: required with the video (its frame rate in frames per second)")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ValueError(f"{name}: expected a positive frame rate, got {rate!r}")
    return float(rate)


# -- the pipeline -----------------------------------------------------------------------------
@dataclass
class PipelineSpec:
    """What a builder returns: a step per modality the model takes, the modalities whose
    features are standardised by default, and the fixed lengths of ``fixed_lengths`` models."""

    steps: dict[str, Step]
    normalize: tuple[str, ...] = ()
    lengths: dict[str, int] | None = None


@dataclass(frozen=True)
class PipelineOptions:
    """The options of :func:`for_model` a builder reads.

    Attributes:
        tokenizer: a tokenizer to use instead of the text encoder's (an object, or a folder /
            hub id for :func:`~emofuse.encoders.tokenizer.load_tokenizer`).
        text_max_length: tokens kept (``None``: the model's own limit).
    """

    tokenizer: Any = None
    text_max_length: int | None = None

    def load_tokenizer(self, text_encoder: str) -> PreTrainedTokenizerBase:
        if self.tokenizer is None:
            return load_tokenizer(text_encoder)
        if isinstance(self.tokenizer, str | os.PathLike):
            return load_tokenizer(os.fspath(self.tokenizer), field="tokenizer")
        return self.tokenizer

    def max_length(self, tokenizer: PreTrainedTokenizerBase, default: int | None = None) -> int:
        if self.text_max_length is not None:
            return self.text_max_length
        limit = min(int(tokenizer.model_max_length), MAX_TEXT_TOKENS)
        return limit if default is None else min(default, limit)


Builder = Callable[[Any, PipelineOptions], PipelineSpec]
_BUILDERS: dict[type[ModelConfig], Builder] = {}


def register_pipeline(config_class: type[ConfigT]) -> Callable[[Builder], Builder]:
    """Register the input pipeline of models configured by ``config_class`` (and its
    subclasses): ``fn(config, options) -> PipelineSpec``. For users' own models, as
    :func:`emofuse.register_model` is."""

    def decorator(fn: Builder) -> Builder:
        _BUILDERS[config_class] = fn
        return fn

    return decorator


class InputPipeline:
    """One raw clip → one unbatched sample of a model's keyword inputs (time first, as the
    :mod:`emofuse.data` datasets yield them), ready for :func:`emofuse.data.collate`.

    Build it with :func:`for_model`. Feature statistics (global mean/variance of the
    modalities in ``normalize``) are fitted on the training split with :meth:`fit`, saved
    with :meth:`save_pretrained` beside the model's ``config.json`` (with the tokenizer's
    files) and applied unchanged at evaluation and prediction.

    Attributes:
        config: the model config the pipeline follows.
        registered_name: its registry name.
        steps: the step of each modality the model takes.
        normalizers: a :class:`FeatureNormalizer` per normalised modality.
        lengths: fixed step counts to pad to (``mcr``'s ``seq_lens``), else ``None``.
        training: augment (random face positions, snippet crops/flips); see :meth:`train`.

    Raises:
        ValueError: (call) a modality the model does not take, no modality at all, a rate
            without its modality, inputs of the wrong layout (named, with the expected layout),
            or features to normalise before :meth:`fit`.
    """

    def __init__(
        self,
        config: ModelConfig,
        spec: PipelineSpec,
        *,
        registered_name: str | None = None,
        model_class: str | None = None,
        normalize: Sequence[str] | None = None,
        options: PipelineOptions | None = None,
    ) -> None:
        self.config, self.registered_name, self.model_class = config, registered_name, model_class
        self.steps = dict(spec.steps)
        self.lengths = dict(spec.lengths) if spec.lengths else None
        self.options = options or PipelineOptions()
        self.training = False
        chosen = spec.normalize if normalize is None else tuple(normalize)
        unknown = [m for m in chosen if m not in self.steps]
        unable = [m for m in chosen if m in self.steps and self.steps[m].num_features is None]
        if unknown or unable:
            raise ValueError(
                f"normalize: expected modalities with features among {self.normalizable}, got "
                f"{list(chosen)}"
            )
        self.normalizers = {
            m: FeatureNormalizer(
                int(self.steps[m].num_features or 0), feature_axis=self.steps[m].feature_axis
            )
            for m in chosen
        }

    @property
    def normalizable(self) -> list[str]:
        return [m for m, s in self.steps.items() if s.num_features is not None]

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase | None:
        step = self.steps.get("text")
        return step.tokenizer if isinstance(step, TokensStep) else None

    @property
    def name(self) -> str:
        return self.registered_name or type(self.config).__name__

    def train(self, mode: bool = True) -> InputPipeline:
        """Augment in training (as ``nn.Module.train``). Returns ``self``."""
        self.training = mode
        return self

    def eval(self) -> InputPipeline:
        return self.train(False)

    # -- calling --------------------------------------------------------------------------
    def __call__(
        self,
        *,
        audio: Any = None,
        video: Any = None,
        text: Any = None,
        sample_rate: int | None = None,
        fps: float | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One clip → ``{modality: (T, ...)}`` for the modalities given.

        Inputs:
            audio: a :class:`~emofuse.transforms.Waveform`, or (C, N) channels-first / (N,)
            samples with ``sample_rate`` in Hz (any rate; resampled); video: uint8 (T, H, W, 3)
            RGB face crops with ``fps``; text: the transcript (str). ``mcr`` takes
            pre-extracted (T, d) feature sequences instead. generator: makes training
            augmentation reproducible.
        Returns:
            ``audio`` / ``video`` / ``text`` in the model's layout without the batch axis (see
            the module table), ``text`` as (L,) int64 token ids.
        """
        values = self._values(audio=audio, video=video, text=text, sample_rate=sample_rate, fps=fps)
        raw = self._features(values, generator)
        for modality, normalizer in self.normalizers.items():
            if modality not in raw:
                continue
            if not normalizer.fitted:
                raise ValueError(
                    f"{modality}: the {self.name} pipeline standardises {modality} features with "
                    "statistics of the training split, which are not fitted; call "
                    "pipeline.fit(training clips), load a saved pipeline (for_model(folder)), "
                    "or build it with for_model(..., normalize=()) to skip"
                )
            raw[modality] = normalizer(raw[modality])
        return raw

    def _values(self, **given: Any) -> dict[str, tuple[Any, Any]]:
        rates = {"sample_rate": given.pop("sample_rate"), "fps": given.pop("fps")}
        values = {m: v for m, v in given.items() if v is not None}
        extra = sorted(set(values) - set(self.steps))
        if extra:
            raise ValueError(
                f"{', '.join(extra)}: {self.name} takes no {' or '.join(extra)} (it takes "
                f"{', '.join(self.steps)})"
            )
        if not values:
            raise ValueError(
                f"audio, video, text: expected at least one of {list(self.steps)}, got none"
            )
        out = {}
        used = set()
        for modality, value in values.items():
            rate_name = self.steps[modality].rate_name
            used.add(rate_name)
            out[modality] = (value, rates[rate_name] if rate_name else None)
        for rate_name, rate in rates.items():
            if rate is not None and rate_name not in used:
                owner = "audio" if rate_name == "sample_rate" else "video"
                if owner in values:  # pre-extracted features carry no rate
                    raise ValueError(
                        f"{rate_name}: {self.name} takes {owner} as features without a rate"
                    )
                raise ValueError(f"{rate_name}: given without {owner} to go with it")
        return out

    def _features(
        self, values: Mapping[str, tuple[Any, Any]], generator: torch.Generator | None
    ) -> dict[str, Tensor]:
        context = StepContext(training=self.training, generator=generator)
        for modality in sorted(values, key=MODALITIES.index):  # audio before video
            value, rate = values[modality]
            context.outputs[modality] = self.steps[modality](value, rate, context)
        return context.outputs

    # -- statistics ----------------------------------------------------------------------
    def fit(self, clips: Iterable[Mapping[str, Any]]) -> InputPipeline:
        """Fit the feature statistics afresh on training clips (mappings of this call's
        keywords, e.g. ``{"audio": waveform, "sample_rate": 16000}``); only the normalised
        modalities are computed. Returns ``self``.

        Raises:
            ValueError: nothing to normalise, or no clip had a normalised modality.
        """
        if not self.normalizers:
            raise ValueError(
                f"pipeline: the {self.name} pipeline normalises no features (build it with "
                f"for_model(..., normalize=[...]) among {self.normalizable})"
            )
        for normalizer in self.normalizers.values():
            for buffer in (normalizer.count, normalizer.mean, normalizer.m2):
                buffer.zero_()
        for clip in clips:
            given = {k: clip.get(k) for k in ("audio", "video", "text", "sample_rate", "fps")}
            values = self._values(**given)
            wanted = {m: v for m, v in values.items() if m in self.normalizers}
            features = self._features(wanted, None)
            for modality, normalizer in self.normalizers.items():
                if modality in features and len(features[modality]):
                    normalizer.update(features[modality])
        missing = [m for m, n in self.normalizers.items() if not n.fitted]
        if missing:
            raise ValueError(f"clips: no clip had {' or '.join(missing)} to fit the statistics on")
        return self

    # -- batching ---------------------------------------------------------------------------
    def collate(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """:func:`emofuse.data.collate` with this model's fixed lengths (``mcr``)."""
        from emofuse.data.collate import collate  # data imports transforms: import on use

        return collate(samples, lengths=self.lengths)

    # -- save / load ------------------------------------------------------------------------
    def save_pretrained(self, directory: PathLike) -> Path:
        """Write ``preprocessor_config.json`` (the model config, options and feature
        statistics, plain JSON) and the tokenizer's files into ``directory``, the folder the
        model was saved to. Each file replaces the last one only once complete.

        Returns:
            the path of ``preprocessor_config.json``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tokenizer = self.tokenizer
        values = {
            "type": PIPELINE_TYPE,
            "registered_name": self.registered_name,
            "model_class": self.model_class,
            "config": self.config.to_dict(),
            "normalize": list(self.normalizers),
            "text_max_length": self.options.text_max_length,
            "normalizers": {
                m: n.to_dict() if n.fitted else None for m, n in self.normalizers.items()
            },
            "tokenizer": tokenizer is not None,
        }
        if tokenizer is not None:
            write_tokenizer_files(tokenizer, directory)
        text = json.dumps(values, indent=2, sort_keys=True) + "\n"
        path = directory / PREPROCESSOR_NAME
        atomic_write(path, lambda tmp: tmp.write_text(text))
        return path

    @classmethod
    def from_pretrained(cls, directory: PathLike) -> InputPipeline:
        """Load what :meth:`save_pretrained` wrote: no network (the tokenizer comes from the
        folder) and no code run (JSON and tokenizer files only).

        Raises:
            FileNotFoundError: no ``preprocessor_config.json`` in ``directory``.
            ValueError: the file holds something else or does not fit its model.
            LookupError: the saved model is not registered in this process.
        """
        directory = Path(directory)
        path = directory / PREPROCESSOR_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"directory: no {PREPROCESSOR_NAME} in {directory} (expected a folder written "
                "by InputPipeline.save_pretrained)"
            )
        values = json.loads(path.read_text())
        if not isinstance(values, dict) or values.get("type") != PIPELINE_TYPE:
            kind = values.get("type") if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"directory: {path} holds a {kind}, not an {PIPELINE_TYPE}")
        meta = {k: values.get(k) for k in ("registered_name", "model_class")}
        config_class = resolve_saved_class(directory, meta).config_class
        config = config_class.from_dict(values["config"])
        options = PipelineOptions(
            tokenizer=directory if values.get("tokenizer") else None,
            text_max_length=values.get("text_max_length"),
        )
        pipeline = _build(
            config, options, meta["registered_name"], meta["model_class"], values["normalize"]
        )
        for modality, stats in (values.get("normalizers") or {}).items():
            if stats is not None:
                loaded = FeatureNormalizer.from_dict(stats, source=f"{path} [{modality!r}]")
                pipeline.normalizers[modality].load_state_dict(loaded.state_dict())
        return pipeline

    def __repr__(self) -> str:
        steps = ", ".join(f"{m}={type(s).__name__}" for m, s in self.steps.items())
        return f"InputPipeline({self.name}: {steps}; normalize={list(self.normalizers)})"


def _build(
    config: ModelConfig,
    options: PipelineOptions,
    registered_name: str | None,
    model_class: str | None,
    normalize: Sequence[str] | None,
) -> InputPipeline:
    for kind in type(config).__mro__:
        builder = _BUILDERS.get(kind)
        if builder is not None:
            break
    else:
        raise LookupError(
            f"name_or_model: no input pipeline is registered for {type(config).__name__} "
            "(register one with emofuse.transforms.register_pipeline)"
        )
    return InputPipeline(
        config,
        builder(config, options),
        registered_name=registered_name,
        model_class=model_class,
        normalize=normalize,
        options=options,
    )


def for_model(
    name_or_model: str | PathLike | EmotionModel[Any],
    *,
    normalize: Sequence[str] | None = None,
    tokenizer: Any = None,
    text_max_length: int | None = None,
) -> InputPipeline:
    """The paper's input pipeline of a model (see the module table).

    Args:
        name_or_model: a registered name (``"mer_sem_mbt_tiny"``), a model, or a folder
            written by ``save_pretrained``: with the pipeline's ``preprocessor_config.json``
            the saved pipeline (tokenizer and statistics included) is loaded; with only the
            model's ``config.json`` one is built for its config (the tokenizer from the folder
            when it holds one).
        normalize: modalities whose features are standardised with training statistics
            (default: the model's, e.g. ``("audio",)`` for ``colearning_transformer``;
            ``()`` for none).
        tokenizer: instead of the text encoder's tokenizer: a tokenizer object, a folder or a
            hub id.
        text_max_length: tokens kept per text (default: the model's ``text_max_len`` or the
            tokenizer's limit).

    Raises:
        ValueError: an unknown name, a tokenizer whose ids the model's vocabulary does not
            hold, or options given with a saved pipeline (which fixes them).
        LookupError: a model with no registered pipeline.
        FileNotFoundError, OSError: a tokenizer that cannot be found or fetched (named).
    """
    options = PipelineOptions(tokenizer=tokenizer, text_max_length=text_max_length)
    model: EmotionModel[Any] | None = None
    if isinstance(name_or_model, EmotionModel):
        model = name_or_model
        cls = type(model)
        pipeline = _build(
            model.config, options, model.registered_name,
            f"{cls.__module__}.{cls.__qualname__}", normalize,
        )  # fmt: skip
    elif isinstance(name_or_model, str | os.PathLike) and Path(name_or_model).is_dir():
        directory = Path(name_or_model)
        if (directory / PREPROCESSOR_NAME).is_file():
            if normalize is not None or tokenizer is not None or text_max_length is not None:
                raise ValueError(
                    f"name_or_model: {directory} holds a saved pipeline, which fixes "
                    "normalize, tokenizer and text_max_length; build from the model's name "
                    "to choose them"
                )
            return InputPipeline.from_pretrained(directory)
        if not (directory / CONFIG_NAME).is_file():
            raise FileNotFoundError(
                f"name_or_model: {directory} holds neither {PREPROCESSOR_NAME} nor "
                f"{CONFIG_NAME} (expected a folder written by save_pretrained)"
            )
        values, meta = read_saved_config(directory)
        config = resolve_saved_class(directory, meta).config_class.from_dict(values)
        if tokenizer is None and any((directory / f).is_file() for f in TOKENIZER_FILES):
            options = PipelineOptions(tokenizer=directory, text_max_length=text_max_length)
        pipeline = _build(
            config, options, meta.get("registered_name"), meta.get("model_class"), normalize
        )
    elif isinstance(name_or_model, str) and name_or_model in list_models():
        entry = get_entry(name_or_model)
        cls = entry.model_class
        pipeline = _build(
            entry.default_config(), options, name_or_model,
            f"{cls.__module__}.{cls.__qualname__}", normalize,
        )  # fmt: skip
    else:
        raise ValueError(
            f"name_or_model: expected a registered model name {list_models()}, a model, or a "
            f"folder written by save_pretrained, got {name_or_model!r}"
        )
    if model is not None and pipeline.tokenizer is not None:
        vocab = model.vocab_sizes().get("text")
        if vocab is not None and len(pipeline.tokenizer) > vocab:
            raise ValueError(
                f"tokenizer: {len(pipeline.tokenizer)} token ids, more than the {vocab} of the "
                "model's text encoder; pass the tokenizer that matches it"
            )
    return pipeline


# -- the registered models' pipelines ---------------------------------------------------------
@register_pipeline(MerSemMbtConfig)
def _mer_sem_mbt(config: MerSemMbtConfig, options: PipelineOptions) -> PipelineSpec:
    """Xia et al. 2022, secs. 3.1.2 and 4.3: VGGish examples, one face per 0.96 s window."""
    tokenizer = options.load_tokenizer(config.text_encoder)
    steps: dict[str, Step] = {
        "audio": WaveformStep(VGGishFrontEnd(), num_features=64, feature_axis=-1, batched=True),
        "video": FaceFramesStep(FaceCrops(config.face_size), frames_per_second=None),
        "text": TokensStep(tokenizer, options.max_length(tokenizer)),
    }
    return PipelineSpec({m: s for m, s in steps.items() if m in config.modalities})


@register_pipeline(AVAttentionFusionConfig)
def _av_attention_fusion(config: AVAttentionFusionConfig, options: PipelineOptions) -> PipelineSpec:
    """Mocanu et al. 2023, secs. 3.1 and 4.2: N spectrogram segments and N face snippets."""
    steps: dict[str, Step] = {}
    if "audio" in config.modalities:
        front = SpectrogramSegments(
            config.num_snippets, size=(config.audio_size, config.audio_size)
        )
        steps["audio"] = WaveformStep(front, num_features=config.audio_size, feature_axis=-2)
    if "video" in config.modalities:
        sampler = SnippetSampler(
            config.num_snippets,
            frames_per_snippet=config.frames_per_snippet,
            size=config.face_size,
        )
        steps["video"] = SnippetsStep(sampler)
    return PipelineSpec(steps)


@register_pipeline(ColearningTransformerConfig)
def _colearning_transformer(
    config: ColearningTransformerConfig, options: PipelineOptions
) -> PipelineSpec:
    """Takashima et al. 2022, sec. 4.2: 80 log-mel + Δ + ΔΔ (global mean/variance normalised,
    the ESPnet convention of their ASR-pretrained encoder) and faces at 3 fps."""
    if config.audio_dim % 3:
        raise ValueError(
            f"audio_dim: the Kaldi filter bank with Δ and ΔΔ gives 3 × mel bands; got "
            f"{config.audio_dim}, not a multiple of 3"
        )
    steps: dict[str, Step] = {
        "audio": WaveformStep(
            KaldiFbankDeltas(num_mel_bins=config.audio_dim // 3, dither=0.0),
            num_features=config.audio_dim,
            feature_axis=-1,
        ),
        "video": FaceFramesStep(FaceCrops(config.face_size), frames_per_second=3.0),
    }
    modalities = getattr(config, "modalities", MODALITIES)
    steps = {m: s for m, s in steps.items() if m in modalities}
    return PipelineSpec(steps, normalize=("audio",) if "audio" in steps else ())


@register_pipeline(EmotionQueryTransformerConfig)
def _emotion_query_transformer(
    config: EmotionQueryTransformerConfig, options: PipelineOptions
) -> PipelineSpec:
    """Le et al. 2023, sec. IV.A, on Dai et al. 2021's front-end: mel chunks, faces at 1 fps."""
    tokenizer = options.load_tokenizer(config.text_encoder)
    front = MelSpectrogramChunks(n_mels=config.mel_bins, chunk_frames=config.chunk_frames)
    crops = FaceCrops(config.face_size, mean=DAI2021_FACE_MEAN, std=DAI2021_FACE_STD)
    steps: dict[str, Step] = {
        "audio": WaveformStep(front, num_features=config.mel_bins, feature_axis=-2),
        "video": FaceFramesStep(crops, frames_per_second=1.0),
        "text": TokensStep(tokenizer, options.max_length(tokenizer, config.text_max_len)),
    }
    return PipelineSpec({m: s for m, s in steps.items() if m in config.modalities})


_MCR_MEANING = {
    "text": "word vectors such as GloVe 300-d",
    "video": "facial features such as Facet 35-d",
    "audio": "acoustic features such as COVAREP 74-d",
}


@register_pipeline(MCRConfig)
def _mcr(config: MCRConfig, options: PipelineOptions) -> PipelineSpec:
    """Yang et al. 2023, sec. 4.1: the CMU-SDK features, padded to ``seq_lens``."""
    dims, lens = config.per_modality("input_dims"), config.per_modality("seq_lens")
    steps: dict[str, Step] = {
        m: FeatureSequenceStep(m, dims[m], lens[m], _MCR_MEANING[m]) for m in config.modalities
    }
    return PipelineSpec(steps, lengths=dict(lens))


__all__ = [
    "PIPELINE_TYPE",
    "FaceFramesStep",
    "FeatureSequenceStep",
    "InputPipeline",
    "PipelineOptions",
    "PipelineSpec",
    "SnippetsStep",
    "Step",
    "StepContext",
    "TokensStep",
    "WaveformStep",
    "for_model",
    "register_pipeline",
]
