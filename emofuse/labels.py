"""Label orders of the datasets the papers use, and the emotion polarity table.

IEMOCAP-6 and CMU-MOSEI-6 follow the raw-data release of Dai et al. (2021) that Xia et al. and
Le et al. train on (alphabetical). CMU-MOSEI-SDK-6 is the order of the CMU-MultimodalSDK's
emotion labels (happy, sad, anger, surprise, disgust, fear), which Takashima et al. (2022) use
in their tables 1–2; it names the same six emotions as CMU-MOSEI-6, and the metrics match
scores to a dataset's classes by name. RAVDESS-8 follows its file-name emotion codes 01–08;
MELD-7 and its three sentiments follow the indices of the MELD authors' code. Polarity follows
Mikel's wheel as Mocanu et al. (2023) use it.
"""

from __future__ import annotations

from collections.abc import Sequence

IEMOCAP_6: tuple[str, ...] = ("anger", "excited", "frustrated", "happiness", "neutral", "sadness")
IEMOCAP_4: tuple[str, ...] = ("anger", "happiness", "neutral", "sadness")
CMU_MOSEI_6: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
CMU_MOSEI_SDK_6: tuple[str, ...] = ("happiness", "sadness", "anger", "surprise", "disgust", "fear")
RAVDESS_8: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)
CREMA_D_6: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad")
# MELD's own order (the emotion indices of the authors' baseline code, declare-lab/MELD)
MELD_7: tuple[str, ...] = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
MELD_SENTIMENT_3: tuple[str, ...] = ("neutral", "positive", "negative")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "iemocap_6": IEMOCAP_6,
    "iemocap_4": IEMOCAP_4,
    "cmu_mosei_6": CMU_MOSEI_6,
    "cmu_mosei_sdk_6": CMU_MOSEI_SDK_6,
    "ravdess_8": RAVDESS_8,
    "crema_d_6": CREMA_D_6,
    "meld_7": MELD_7,
    "meld_sentiment_3": MELD_SENTIMENT_3,
}

POSITIVE, NEGATIVE, NEUTRAL = 1, -1, 0

POLARITY: dict[str, int] = {
    # positive
    "happy": POSITIVE,
    "happiness": POSITIVE,
    "joy": POSITIVE,
    "calm": POSITIVE,
    "surprise": POSITIVE,
    "surprised": POSITIVE,
    "excited": POSITIVE,
    # negative
    "sad": NEGATIVE,
    "sadness": NEGATIVE,
    "fear": NEGATIVE,
    "fearful": NEGATIVE,
    "anger": NEGATIVE,
    "angry": NEGATIVE,
    "disgust": NEGATIVE,
    "frustrated": NEGATIVE,
    # neutral
    "neutral": NEUTRAL,
    # sentiment classes (MELD's sentiment labels)
    "positive": POSITIVE,
    "negative": NEGATIVE,
}


def label_set(name: str) -> tuple[str, ...]:
    """The label order registered as ``name`` (e.g. ``"iemocap_6"``).

    Raises:
        ValueError: an unknown ``name``.
    """
    try:
        return LABEL_SETS[name.lower()]
    except KeyError:
        raise ValueError(f"label set: expected one of {sorted(LABEL_SETS)}, got {name!r}") from None


def polarity(label: str) -> int:
    """+1 (positive), -1 (negative) or 0 (neutral) for an emotion name.

    Raises:
        ValueError: an emotion without a known polarity.
    """
    try:
        return POLARITY[label.lower()]
    except KeyError:
        raise ValueError(
            f"label: expected an emotion with a known polarity {sorted(POLARITY)}, got {label!r}"
        ) from None


def polarities(labels: Sequence[str]) -> tuple[int, ...]:
    """The polarity of each label, in order (e.g. for ``PolarityTripletLoss``)."""
    return tuple(polarity(label) for label in labels)


__all__ = [
    "CMU_MOSEI_6",
    "CMU_MOSEI_SDK_6",
    "CREMA_D_6",
    "IEMOCAP_4",
    "IEMOCAP_6",
    "LABEL_SETS",
    "MELD_7",
    "MELD_SENTIMENT_3",
    "NEGATIVE",
    "NEUTRAL",
    "POLARITY",
    "POSITIVE",
    "RAVDESS_8",
    "label_set",
    "polarities",
    "polarity",
]
