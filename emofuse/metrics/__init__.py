"""Evaluation as the papers report it: metrics on torchmetrics, threshold tuning on validation,
the papers' protocols, distributed-safe and robustness evaluation.

>>> import emofuse.metrics as M
>>> M.protocol("yang2023", dataset="mosi").keys
('Acc7', 'Acc2', 'F1', 'MAE', 'Corr')

Each metric is a function on tensors and a torchmetrics ``Metric`` (``update`` per batch,
``compute`` once; synchronised across processes, repeated sample ids counted once). Multi-label
metrics take a :class:`Thresholds`, which only :func:`tune_thresholds` (on the validation split)
or :meth:`Thresholds.constant` make.
"""

from emofuse.metrics.evaluate import (
    Condition,
    MissingModality,
    ModalityNoise,
    Predictions,
    RobustnessTable,
    evaluate,
    evaluate_robustness,
    predict,
    scores_from_output,
)
from emofuse.metrics.multiclass import (
    ConfusionMatrix,
    MulticlassAccuracy,
    MulticlassF1,
    PerClassAccuracy,
    UnweightedAccuracy,
    confusion_matrix,
    multiclass_accuracy,
    multiclass_f1,
    per_class_accuracy,
    unweighted_accuracy,
)
from emofuse.metrics.multilabel import (
    MultilabelAccuracy,
    MultilabelF1,
    MultilabelTwoClassF1,
    MultilabelWeightedAccuracy,
    multilabel_accuracy,
    multilabel_f1,
    multilabel_stat_counts,
    multilabel_two_class_f1,
    multilabel_weighted_accuracy,
)
from emofuse.metrics.protocols import PROTOCOLS, MetricTable, Protocol, list_protocols, protocol
from emofuse.metrics.samples import SampleMetric, first_occurrences, ids_to_tensor
from emofuse.metrics.sentiment import (
    ConcordanceCC,
    MeanAbsoluteError,
    PearsonR,
    SentimentAcc2,
    SentimentAcc5,
    SentimentAcc7,
    SentimentF1,
    concordance_cc,
    mean_absolute_error,
    pearson_r,
    sentiment_acc2,
    sentiment_acc5,
    sentiment_acc7,
    sentiment_f1,
)
from emofuse.metrics.thresholds import DEFAULT_GRID, Thresholds, tune_thresholds

__all__ = [
    "DEFAULT_GRID",
    "PROTOCOLS",
    "ConcordanceCC",
    "Condition",
    "ConfusionMatrix",
    "MeanAbsoluteError",
    "MetricTable",
    "MissingModality",
    "ModalityNoise",
    "MulticlassAccuracy",
    "MulticlassF1",
    "MultilabelAccuracy",
    "MultilabelF1",
    "MultilabelTwoClassF1",
    "MultilabelWeightedAccuracy",
    "PearsonR",
    "PerClassAccuracy",
    "Predictions",
    "Protocol",
    "RobustnessTable",
    "SampleMetric",
    "SentimentAcc2",
    "SentimentAcc5",
    "SentimentAcc7",
    "SentimentF1",
    "Thresholds",
    "UnweightedAccuracy",
    "concordance_cc",
    "confusion_matrix",
    "evaluate",
    "evaluate_robustness",
    "first_occurrences",
    "ids_to_tensor",
    "list_protocols",
    "mean_absolute_error",
    "multiclass_accuracy",
    "multiclass_f1",
    "multilabel_accuracy",
    "multilabel_f1",
    "multilabel_stat_counts",
    "multilabel_two_class_f1",
    "multilabel_weighted_accuracy",
    "pearson_r",
    "per_class_accuracy",
    "predict",
    "protocol",
    "scores_from_output",
    "sentiment_acc2",
    "sentiment_acc5",
    "sentiment_acc7",
    "sentiment_f1",
    "tune_thresholds",
    "unweighted_accuracy",
]
