"""Transitional names: the prose now lives by topic in :mod:`coursebook.course.prose` and the
history queries in :mod:`coursebook.course.history`. Import from there; this module only keeps
existing callers working until they move."""

from coursebook.course.history import HISTORY_COLUMNS  # noqa: F401
from coursebook.course.prose.comparison import ALPHA, Comparison, compare  # noqa: F401
from coursebook.course.prose.confusion import ConfusedPairs, most_confused_pairs  # noqa: F401
from coursebook.course.prose.dataset import describe_dataset  # noqa: F401
from coursebook.course.prose.learning_speed import (  # noqa: F401
    LearningSpeed,
    compare_learning_speed,
    learning_speed,
)
from coursebook.course.prose.overfitting import OverfittingDiagnosis, overfitting_diagnosis  # noqa: F401
