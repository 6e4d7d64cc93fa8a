"""Transitional names: parameter-count and backprop prose now live in
:mod:`coursebook.course.prose.parameters` and :mod:`coursebook.course.prose.backprop_checks`.
Import from there; this module only keeps existing callers working until they move."""

from coursebook.course.prose.backprop_checks import (  # noqa: F401
    GRADIENT_TOLERANCE,
    STATED_DB1,
    STATED_LOSS,
    BackpropChecks,
    backprop_checks,
    constant_predictor_loss,
    training_verdict,
)
from coursebook.course.prose.parameters import (  # noqa: F401
    DenseInput,
    ParameterChange,
    layers_table,
    parameter_change,
    verified_table,
    verified_total,
)
