"""Why a deeper network did (or did not) beat a shallower one: q6 Part 2, usable by any two-arm
comparison whose first arm is the reference and whose second arm is the deeper model.

The effect is the validation accuracy at each run's evaluated epoch; the evidence is the training
accuracy, the train-validation gap and the validation-loss rise of both arms, next to facts about
the two architectures computed from their specs (parameters, convolutions, the map sizes the
convolutions see, regularising layers). The mechanism offered depends on what was measured:
over-fitting when the deeper model fits its training images at least as well but generalises
worse, under-fitting when it fits them worse, and no mechanism of failure when it did better.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coursebook.course import models
from coursebook.course.prose import comparison
from coursebook.course.explain import measures
from coursebook.course.explain.chance import barely_learned

SMALL_MAP = 4  # a convolution whose input is at most 4x4 sees mostly padding with a 3x3 kernel


@dataclass(frozen=True)
class Architecture:
    """Facts about one architecture, computed from its spec."""

    name: str
    parameters: int
    convolutions: int
    poolings: int  # max-pooling layers: the blocks of the q6 models
    conv_inputs: tuple[int, ...]  # input height of every convolution, in order
    small_map_parameters: int  # parameters of convolutions whose input is at most SMALL_MAP wide
    dropout_rates: tuple[float, ...]
    batchnorm: int
    global_pooling: bool

    @property
    def small_map_share(self) -> float:
        return self.small_map_parameters / self.parameters


def architecture(model: str) -> Architecture:
    """The facts of the spec ``params/models/<model>.yaml`` (10 classes)."""
    spec = models.load_spec(model)
    table = models.parameter_table(spec)
    inputs = [tuple(spec.input_shape)] + models.layer_shapes(spec)[:-1]
    conv_inputs, small = [], 0
    for layer, shape, params in zip(spec.layers, inputs, table["params"]):
        if layer.type == "conv":
            conv_inputs.append(int(shape[0]))
            small += int(params) if max(shape[:2]) <= SMALL_MAP else 0
    return Architecture(
        name=model, parameters=int(table["params"].sum()), convolutions=len(conv_inputs),
        poolings=sum(layer.type == "maxpool" for layer in spec.layers),
        conv_inputs=tuple(conv_inputs), small_map_parameters=small,
        dropout_rates=tuple(layer.options["rate"] for layer in spec.layers if layer.type == "dropout"),
        batchnorm=sum(layer.type == "batchnorm" for layer in spec.layers),
        global_pooling=any(layer.type == "gap" for layer in spec.layers))


@dataclass(frozen=True)
class DepthEvidence:
    """What the answer is built from: comparisons of the deeper arm (a) with the reference (b);
    names are Markdown-escaped."""

    reference: str
    deeper: str
    validation: comparison.Comparison
    training: comparison.Comparison
    gap: comparison.Comparison
    rise: comparison.Comparison
    test: comparison.Comparison | None


def evidence(results: Any) -> DepthEvidence:
    """Compare the second arm (deeper) with the first (reference) at every run's evaluated epoch."""
    data = measures.as_mapping(results)
    if len(data["arms"]) < 2:
        raise ValueError(f"the depth explanation needs two arms (reference, deeper); got {measures.arm_names(data)}")
    ref, deep = data["arms"][0], data["arms"][1]
    names = measures.md_name(deep["name"]), measures.md_name(ref["name"])

    def versus(metric: str, values, better: bool | None, **options: Any) -> comparison.Comparison:
        return comparison.compare(metric, names[0], values(deep), names[1], values(ref), higher_is_better=better,
                                **options)

    tests = [_test_values(arm) for arm in (deep, ref)]
    return DepthEvidence(
        reference=names[1], deeper=names[0],
        validation=versus("validation accuracy", lambda arm: measures.per_run(arm, "val_accuracy"), True),
        training=versus("training accuracy", lambda arm: measures.per_run(arm, "accuracy"), None),
        gap=versus("train-validation accuracy gap",
                   lambda arm: [measures.accuracy_gap(run) for run in arm["runs"]], None),
        rise=versus("rise of validation loss after its lowest epoch",
                    lambda arm: [measures.val_loss_rise(run) for run in arm["runs"]], None, relative=False),
        test=(comparison.compare("test accuracy", names[0], tests[0], names[1], tests[1], higher_is_better=True)
              if all(tests) else None))


def _test_values(arm: Mapping[str, Any]) -> list[float] | None:
    values = [run.get("test", {}).get("accuracy") for run in arm["runs"]]
    return None if any(v is None for v in values) else [float(v) for v in values]


def _beats(c: comparison.Comparison) -> bool:
    """Whether arm a is higher than b beyond run-to-run noise (never from a single run)."""
    return c.direction == "higher" and c.exceeds_noise is True


def _higher(c: comparison.Comparison) -> bool:
    return c.direction == "higher"


def _lower(c: comparison.Comparison) -> bool:
    return c.direction == "lower"


def answer(results: Any) -> str:
    """Markdown: the effect, the evidence, the architectures, the mechanism and the limits."""
    data = measures.as_mapping(results)
    ev = evidence(data)
    ref, deep = (architecture(arm["model"]) for arm in data["arms"][:2])
    chance = barely_learned(data, [ev.validation.mean_a, ev.validation.mean_b], "Neither model learned much")
    paragraphs = [
        f"**Effect.** {_effect(ev)}",
        "**Evidence.** " + " ".join(c.sentence for c in (ev.training, ev.gap, ev.rise)),
        f"**The two architectures.** {_architectures(ev, ref, deep)}",
        f"**Mechanism.** {chance or _mechanism(ev, ref, deep)}",
        f"**Limits of the evidence.** {measures.limits(data)}",
    ]
    return "\n\n".join(paragraphs)


def _effect(ev: DepthEvidence) -> str:
    text = ev.validation.sentence
    if ev.test is not None:
        text += f" On the test set: {ev.test.sentence}"
    if _beats(ev.validation):
        return f"{text} Here more depth helped."
    if _higher(ev.validation):
        return f"{text} The deeper model is ahead, but not clearly: depth did not demonstrably help."
    return f"{text} More depth did not help."


def _architectures(ev: DepthEvidence, ref: Architecture, deep: Architecture) -> str:
    parts = [f"{ev.deeper} has {deep.parameters:,} parameters, {_ratio(deep.parameters, ref.parameters)} "
             f"{ev.reference} ({ref.parameters:,}), in {_count(deep.poolings, 'pooling stage')} against "
             f"{ref.poolings} and {_count(deep.convolutions, 'convolution')} against {ref.convolutions}."]
    parts.append(f"Its convolutions see maps of {_sizes(deep.conv_inputs)} pixels, those of {ev.reference} "
                 f"{_sizes(ref.conv_inputs)}.")
    if deep.small_map_parameters:
        parts.append(f"{deep.small_map_share:.0%} of its parameters ({deep.small_map_parameters:,}) sit in "
                     f"convolutions whose input is {SMALL_MAP}×{SMALL_MAP} or smaller, where a 3×3 window "
                     "covers most of the map and much of it is zero padding.")
    parts.append(f"{_regularisation(deep, ev.deeper)}; {_regularisation(ref, ev.reference)}.")
    return " ".join(parts)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _ratio(a: int, b: int) -> str:
    """'2.9 times as many as', 'the same number as', '1.5 times fewer than' (one decimal shown)."""
    if a == b:
        return "the same number as"
    shown = f"{max(a, b) / min(a, b):.1f}"
    return f"{shown} times as many as" if a > b else f"{shown} times fewer than"


def _sizes(inputs: tuple[int, ...]) -> str:
    return ", ".join(f"{n}×{n}" for n in inputs)


def _regularisation(arch: Architecture, name: str) -> str:
    parts = [f"dropout {', '.join(f'{rate:g}' for rate in arch.dropout_rates)}" if arch.dropout_rates else "no dropout",
             f"{arch.batchnorm} batch-normalization layers" if arch.batchnorm else "no batch normalization"]
    return f"{name} has {' and '.join(parts)}"


def _mechanism(ev: DepthEvidence, ref: Architecture, deep: Architecture) -> str:
    if _beats(ev.validation):
        return (f"On these images the extra convolutions found features that {ev.reference} could not, and the "
                "added capacity was not spent on memorising the training images. The assignment's reference "
                "found the opposite on CIFAR-10; a result on one dataset and budget does not transfer by itself.")
    if _higher(ev.validation):
        return _ahead_unclear(ev, ref, deep)
    reasons = []
    if _lower(ev.training):
        reasons.append(_underfitting(ev, ref, deep))
    if not _lower(ev.training) and (_higher(ev.gap) or _higher(ev.rise)):
        reasons.append(_overfitting(ev, ref, deep))
    if not reasons:
        reasons.append(f"The deeper model fits its training images no worse and its gap and validation-loss "
                       "rise are not larger, so these curves show neither over-fitting nor under-fitting: "
                       "the extra depth added nothing these images rewarded within the epochs given.")
    return " ".join(reasons)


def _ahead_unclear(ev: DepthEvidence, ref: Architecture, deep: Architecture) -> str:
    """The deeper model is ahead, but not beyond run-to-run noise: no mechanism of failure applies."""
    text = (f"{ev.deeper} is ahead on validation accuracy here, but not beyond run-to-run noise, so there is no "
            "failure to explain yet.")
    if _higher(ev.training):
        text += f" It also fits its training images better{_noise_words(ev.training)}"
        signs = [words for c, words in ((ev.gap, "a larger train-validation gap"),
                                        (ev.rise, "a larger rise of validation loss after its lowest epoch"))
                 if _higher(c)]
        if signs:
            text += (f", and already shows {' and '.join(signs)}: its extra capacity ({deep.parameters:,} parameters "
                     f"against {ref.parameters:,}) serves fitting and memorising alike, and more epochs would likely "
                     "widen the gap.")
        else:
            text += "."
    return text + " More runs would tell whether the gain survives."


def _underfitting(ev: DepthEvidence, ref: Architecture, deep: Architecture) -> str:
    if ev.training.exceeds_noise:
        text = (f"{ev.deeper} does not even fit its training images as well as {ev.reference} (training accuracy "
                "lower, beyond run-to-run noise): the shortfall comes from fitting, not from memorisation.")
    else:
        text = (f"{ev.deeper} also fits its training images less well than {ev.reference} (training accuracy lower, "
                f"{_noise_words(ev.training).strip(' ()')}), which points to under-fitting rather than memorisation, "
                "though not firmly.")
    if deep.conv_inputs and ref.conv_inputs and min(deep.conv_inputs) < min(ref.conv_inputs):
        text += (f" Pooling after every convolution shrinks the image to {min(deep.conv_inputs)}×"
                 f"{min(deep.conv_inputs)} before the last convolution, so the deepest filters describe "
                 "almost no spatial layout")
        text += (", and global average pooling then keeps only the mean of each channel." if deep.global_pooling
                 else ".")
    if not deep.batchnorm:
        text += (" A plain stack without batch normalization or skip connections also passes gradients "
                 "through more layers and learns more slowly with the same optimizer and epochs.")
    return text


def _overfitting(ev: DepthEvidence, ref: Architecture, deep: Architecture) -> str:
    signs = [f"its train-validation gap is larger{_noise_words(ev.gap)}" if _higher(ev.gap) else "",
             f"its validation loss rises more after its lowest epoch{_noise_words(ev.rise)}" if _higher(ev.rise) else ""]
    text = (f"{ev.deeper} fits its training images at least as well but {' and '.join(s for s in signs if s)}: "
            "the extra capacity went into memorising the training images rather than into features that "
            "generalise (over-fitting).")
    if deep.parameters > ref.parameters:
        text += f" It has more parameters to memorise with ({deep.parameters:,} against {ref.parameters:,})"
        text += (" and no dropout, while the reference has some." if not deep.dropout_rates and ref.dropout_rates
                 else ".")
    return text


def _noise_words(c: comparison.Comparison) -> str:
    if c.exceeds_noise is None:
        return " (in a single run)"
    return " (beyond run-to-run noise)" if c.exceeds_noise else " (though within run-to-run noise)"
