"""Explanations: for each "explain" or "why", the standard mechanism, stated as consistent or
inconsistent with this run's facts and tied to them by number (the arms' names, parameter counts,
curve minima, settings), never a sentence that restates its own conclusion.

A mechanism is a function ``(results, arms, fits) -> sentences``; ``arms`` are the question's arms
(the first the reference or base) and ``fits`` their runs' :class:`~.facts.RunFit` by arm name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coursebook.course import curves, results as results_module
from coursebook.course.answers import facts
from coursebook.course.answers.facts import name
from coursebook.course.arms import PROBE_IMAGES
from coursebook.course.prose import measure_names
from coursebook.course.prose.numbers import epochs, join
from coursebook.course.results import ArmResult, Results

Fits = dict[str, list[facts.RunFit]]
MECHANISMS: dict[str, Callable[[Any, Sequence[Any], Fits], list[str]]] = {}


def mechanism(key: str):
    def add(function):
        MECHANISMS[key] = function
        return function

    return add


def explain(key: str, results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    """The explanation ``key`` for the question's ``arms``; where an arm has no run that learned,
    what can be said without its curves (its architecture, for depth) and that the rest cannot."""
    failed = [arm for arm in arms if not fits.get(arm.name)]
    if not failed:
        return MECHANISMS[key](results, arms, fits) if arms else []
    text = [
        f"No run of {join([name(arm.name) for arm in failed])} learned (the limits below say why), so the "
        "mechanism cannot be weighed against its curves."
    ]
    if key == "depth" and len(arms) >= 2:
        text.insert(0, depth_layers(arms[0], arms[-1]))
    return text


def _best(fits: Sequence[facts.RunFit]) -> str:
    return facts.run_epochs([f.shape.best_epoch for f in fits])


def _curve_fact(arm: ArmResult, fits: Sequence[facts.RunFit], subject: str | None = None) -> str:
    """What the arm's validation loss did after its minimum (``subject`` replaces its name)."""
    return facts.after_minimum(fits, subject or f"{name(arm.name)}'s validation loss")


def _gap(arm: ArmResult) -> float:
    return facts.average(arm.values("gap"))


@mechanism("augmentation")
def augmentation(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    base, augmented = arms[0], arms[-1]
    later = facts.average([f.shape.best_epoch for f in fits[augmented.name]]) > facts.average(
        [f.shape.best_epoch for f in fits[base.name]]
    )
    narrower = _gap(augmented) < _gap(base)
    verdict = (
        "consistent with that"
        if later and narrower
        else "partly consistent with that"
        if later or narrower
        else "not what that predicts"
    )
    return [
        f"Augmentation acts as a regularizer: every epoch shows the network shifted, rotated and flipped variants "
        f"of its {facts.parameter_place(results, augmented).images:,} training images, so memorizing the exact "
        "images pays less, which predicts a validation loss that keeps falling for more epochs and a smaller "
        f"training − validation gap. The runs are {verdict}: {_curve_fact(augmented, fits[augmented.name])}, "
        f"while {_curve_fact(base, fits[base.name])}; "
        f"the gap was {_gap(augmented):.2f} for {name(augmented.name)} against {_gap(base):.2f} for {name(base.name)}."
    ]


@mechanism("batch-norm")
def batch_norm(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    base, normed = arms[0], arms[-1]
    found = curves.equal_epochs(normed.curves("train_loss"), base.curves("train_loss"))
    lower = found.lower_epochs()
    faster = len(lower) > len(found.epochs) / 2
    sooner = facts.average([f.shape.best_epoch for f in fits[normed.name]]) < facts.average(
        [f.shape.best_epoch for f in fits[base.name]]
    )
    layers = len(facts.layers_of(normed, "batchnorm"))
    text = [
        f"The {layers} batch-normalization layers of {name(normed.name)} rescale their inputs with each batch's "
        "statistics, which keeps activations in a range where larger steps stay stable; that predicts a training "
        f"loss falling faster per epoch than {name(base.name)}'s and, with the training images fitted sooner, a "
        f"validation loss that bottoms sooner. The runs are {'consistent' if faster else 'inconsistent'} with the "
        f"first: {name(normed.name)}'s training loss was below {name(base.name)}'s at {len(lower)} of "
        f"{len(found.epochs)} equal epochs (epoch {found.epochs[-1]}: {found.arm[-1]:.2f} against "
        f"{found.reference[-1]:.2f}); and {'consistent' if sooner else 'inconsistent'} with the second: validation "
        f"loss was lowest at {_best(fits[normed.name])} for {name(normed.name)} and {_best(fits[base.name])} "
        f"for {name(base.name)}."
    ]
    confounds = facts.setting_differences(normed, base)
    if confounds:
        said = join([f"{key.replace('_', ' ')} {a}" for key, a, _ in confounds])
        other = join([f"{b}" for _, _, b in confounds])
        direction = []
        keys = {key: (a, b) for key, a, b in confounds}
        if "learning_rate" in keys and _larger(keys["learning_rate"]) is not None:
            direction.append(
                "a larger learning rate takes larger steps (the same direction as batch normalization's faster fall)"
                if _larger(keys["learning_rate"])
                else "a smaller learning rate takes smaller steps (against a faster fall)"
            )
        if "batch_size" in keys and _larger(keys["batch_size"]) is not None:
            direction.append(
                "a larger batch takes fewer steps per epoch (against a faster fall per epoch)"
                if _larger(keys["batch_size"])
                else "a smaller batch takes more steps per epoch (the same direction as a faster fall)"
            )
        text.append(
            f"The arms differ in more than batch normalization: {name(normed.name)} used {said}, "
            f"{name(base.name)} {other}; "
            + ("; ".join(direction) if direction else "each may matter")
            + ", so the difference cannot be put on batch normalization alone."
        )
    return text


def _larger(pair: tuple[Any, Any]) -> bool | None:
    """Whether the first setting is the larger (None when either is not a number)."""
    try:
        return float(pair[0]) > float(pair[1])
    except (TypeError, ValueError):
        return None


@mechanism("capacity")
def capacity(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    """Each arm's weights against its training images, and what fitting their particulars predicts
    of its curves after the validation-loss minimum: a training accuracy that goes on rising while
    the validation loss rises, both read from the runs."""
    text = []
    for arm in arms:
        place = facts.parameter_place(results, arm)
        dropout = [layer.options.get("rate") for layer in facts.layers_of(arm, "dropout")]
        regular = f", dropout {join([f'{r:g}' for r in dropout])}" if dropout else ", no dropout"
        text.append(
            f"The model {name(arm.name)} has {place.total:,} weights, {place.largest:,} of them "
            f"({place.share:.0%}) in one layer ({place.largest_layer}), fitted to {place.images:,} training "
            f"images{regular}: {place.per_image:,.0f} weights per image, {_room(place.per_image)}. "
            + _capacity_against_curves(arm, fits[arm.name], min(PROBE_IMAGES, place.images))
        )
    return text


def _room(per_image: float) -> str:
    """What that many weights per training image leave room for."""
    if per_image >= 10:
        return "room to fit what is particular to each image, not only what its class shares"
    if per_image >= 1:
        return "more weights than images, enough to fit some of what is particular to each image"
    return "fewer weights than images, which leaves little room to fit what is particular to each one"


def _capacity_against_curves(arm: ArmResult, fits: Sequence[facts.RunFit], probe_images: int) -> str:
    """The prediction, placed at the runs' own validation-loss minima, and which of its two halves
    (the validation loss rising, the training accuracy still rising) the runs show."""
    loss = _curve_fact(arm, fits, "its validation loss")
    after = facts.past_minimum(fits)
    if not after:
        return (
            "Fitting those particulars would show only after the validation loss bottoms, and the budget ended "
            f"first: {loss}, before any over-fitting could show."
        )
    inference = measure_names.inference_mode(arm.learned_runs(), "train_accuracy")
    measured = f"inference mode, on the first {probe_images:,} training images" if inference else "Keras' running value"
    train = facts.training_after_minimum(fits, f"its training accuracy ({measured})")
    return (
        f"Fitting those particulars would show after the validation loss's lowest epoch ({_best(after)}) as a "
        f"training accuracy still rising while the validation loss rises; {_halves_shown(fits)}: {loss}, while "
        f"{train}."
    )


HALVES = {  # what a run shows of the capacity prediction
    "both": "both",
    "loss": "the validation loss's rise alone",
    "accuracy": "the training accuracy's rise alone",
    "neither": "neither",
    "falling": "no minimum before the budget ended",
}


def _halves_shown(fits: Sequence[facts.RunFit]) -> str:
    """Which halves of the prediction each run shows: 'the run shows both', or 'the runs show both in
    1 of 2 runs and the training accuracy's rise alone in 1 of 2 runs'."""

    def shown(fit: facts.RunFit) -> str:
        if fit.shape.state == curves.FALLING:
            return "falling"
        rising, climbing = fit.shape.state == curves.RISING, fit.train_climb.climbing
        return "both" if rising and climbing else "loss" if rising else "accuracy" if climbing else "neither"

    kinds = [shown(fit) for fit in fits]
    if len(set(kinds)) == 1:
        if kinds[0] == "neither":
            return "the run shows neither" if len(kinds) == 1 else "no run shows either"
        return f"{'the run shows' if len(kinds) == 1 else 'every run shows'} {HALVES[kinds[0]]}"
    counts = {kind: kinds.count(kind) for kind in HALVES if kind in kinds}
    return "the runs show " + join(
        [f"{HALVES[kind]} in {count} of {len(kinds)} runs" for kind, count in counts.items()]
    )


def _layer_counts(arm: ArmResult) -> tuple[int, int, int]:
    """Convolutional, dense and batch-normalization layers of the arm's model."""
    from coursebook.course import models

    layers = models.load_spec(arm.model).layers
    conv, dense, batchnorm = (sum(layer.type == kind for layer in layers) for kind in ("conv", "dense", "batchnorm"))
    return conv, dense, batchnorm


def depth_layers(shallow: Any, deep: Any) -> str:
    """How much deeper the deeper model is, in weight layers and parameters (from the specs)."""
    from coursebook.course import models

    (c1, d1, _), (c2, d2, _) = _layer_counts(shallow), _layer_counts(deep)
    p1, p2 = (models.parameter_summary(arm.model)["total"] for arm in (shallow, deep))
    text = (
        f"The model {name(deep.name)} has {c2} convolutional and {d2} dense layers ({c2 + d2} weight layers) "
        f"against {c1} and {d1} ({c1 + d1}) in {name(shallow.name)}, and {p2:,} parameters against {p1:,}"
    )
    if c2 + d2 <= c1 + d1:
        text += "; so it is not deeper in weight layers, only in pooling stages that shrink the maps"
    return text + "."


@mechanism("depth")
def depth(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    shallow, deep = arms[0], arms[-1]
    b1, b2 = (_layer_counts(arm)[2] for arm in (shallow, deep))
    train = facts.difference(results, deep, shallow, "train_accuracy")
    text = [depth_layers(shallow, deep)]
    norm = (
        "neither model has normalization layers, so their absence does not separate them"
        if not (b1 or b2)
        else f"normalization layers: {b2} against {b1}"
    )
    if train is not None and train.direction == "lower":
        text.append(
            f"More depth without normalization or shortcuts makes optimization harder (gradients pass through "
            f"more layers); that predicts a worse fit of the training images, and the runs are consistent with "
            f"it: {facts.verdict(train, 'training accuracy', deep, shallow, start=False)}; {norm}."
        )
    else:
        text.append(
            f"Harder optimization would show as a worse fit of the training images, which these runs do not "
            f"show ({facts.verdict(train, 'training accuracy', deep, shallow, start=False)}); {norm}."
        )
    return text


@mechanism("regularizers")
def regularizers(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    """Each arm's dropout and batch-normalization layers against its curves (and the first arm's,
    where there are several)."""
    base, text = arms[0], []
    for arm in arms[1:] or arms:
        ideas = []
        dropout, norm = facts.layers_of(arm, "dropout"), facts.layers_of(arm, "batchnorm")
        if dropout:
            rates = join(list(dict.fromkeys(f"{layer.options.get('rate'):g}" for layer in dropout)))
            ideas.append(
                f"dropout (rate {rates}, {len(dropout)} layer{'s' if len(dropout) > 1 else ''}) silences "
                "random units at every step, so no unit can rely on particular others, which predicts a "
                "narrower gap and, in a short budget, slower fitting"
            )
        if norm:
            ideas.append(
                f"batch normalization ({len(norm)} layer{'s' if len(norm) > 1 else ''}) normalizes each layer's "
                "inputs with its batch's statistics, which speeds optimization and adds batch-to-batch noise: it "
                "predicts faster fitting and a noisier validation curve"
            )
        if not ideas:
            continue
        moved = ""
        if min(run.stopped_epoch for a in (arm, base) for run in a.learned_runs()) >= 3:
            noise = _accuracy_noise(arm)
            moved = f"its validation accuracy moved by about {noise:.3f} from epoch to epoch beyond its trend"
        if arm is base:  # one model: its own numbers
            said = f"Its gap was {_gap(arm):.2f} and {_curve_fact(arm, fits[arm.name], 'its validation loss')}"
            text.append(f"In {name(arm.name)}, {'; '.join(ideas)}. {said}{'; ' + moved if moved else ''}.")
            continue
        if moved:  # the curves themselves are described by the question's answer; the noise is not
            moved = f" {moved[0].upper()}{moved[1:]}, against {_accuracy_noise(base):.3f} for {name(base.name)}."
        text.append(f"In {name(arm.name)}, {'; '.join(ideas)}.{moved}")
        text.append(_regularizers_verdict(results, arm, base, bool(dropout), bool(norm)))
    return text


def _regularizers_verdict(results: Results, arm: ArmResult, base: ArmResult, dropout: bool, norm: bool) -> str:
    """Which of the regularizers' predictions the arm bears out against the base: dropout's narrower
    gap, batch normalization's faster fit of the training images."""
    gap, train = (facts.difference(results, arm, base, m) for m in ("gap", "train_accuracy"))
    predictions = []
    if dropout:
        predictions.append(("dropout's narrower gap", gap is not None and gap.direction == "lower"))
    if norm:
        predictions.append(("batch normalization's faster fit", train is not None and train.direction == "higher"))
    held = [p for p, ok in predictions if ok]
    missed = [p for p, ok in predictions if not ok]
    bears = (f"bear out {join(held)}" if held else "bear out neither prediction") + (
        f" and not {join(missed)}" if held and missed else ""
    )
    return (
        f"Against {name(base.name)}, the gap was {_changed(gap, 'wider', 'narrower')} and training accuracy "
        f"{_changed(train, 'higher', 'lower')}, so the runs {bears}."
    )


def _changed(d: Any, up: str, down: str) -> str:
    """'wider (+0.080 ± 0.050)', or 'the same within ±0.050 (difference +0.030)'."""
    if d is None:
        return "not measurable with these runs"
    value, margin = d.text().split(" ± ")
    if d.direction == "same":
        return f"the same within ±{margin} (difference {value})"
    return f"{up if d.direction == 'higher' else down} ({value} ± {margin})"


def _accuracy_noise(arm: ArmResult) -> float:
    """The epoch-to-epoch noise of the arm's validation accuracy, averaged over its runs."""
    return facts.average([curves.noise(run.curve("val_accuracy")) for run in arm.learned_runs()])


@mechanism("convolution")
def convolution(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    """A convolutional model (the last arm) against a dense one (the first): shared local filters
    against one weight per pixel and unit, which predicts more accuracy from fewer weights and a
    narrower gap; weighed against the validation accuracies and gaps."""
    dense, conv = arms[0], arms[-1]
    dense_place, conv_place = facts.parameter_place(results, dense), facts.parameter_place(results, conv)
    filters = facts.layers_of(conv, "conv")
    sizes = join(list(dict.fromkeys(_kernel(layer.options.get("kernel")) for layer in filters)))
    accuracy = facts.difference(results, conv, dense, "val_accuracy")
    held = [accuracy is not None and accuracy.direction == "higher", _gap(conv) < _gap(dense)]
    agree = {2: "consistent with it", 1: "partly consistent with it", 0: "inconsistent with it"}[sum(held)]
    return [
        f"A convolution applies one small filter ({sizes}) at every position of the image, so {name(conv.name)}'s "
        f"{len(filters)} convolutional layers learn a local pattern once wherever it appears, and pooling keeps "
        f"what a filter found while forgetting exactly where; {name(dense.name)}'s first dense layer instead "
        f"gives every input value its own weight per unit, {dense_place.largest:,} of its {dense_place.total:,} "
        "weights, so a pattern learned at one place says nothing about another. That predicts more validation "
        f"accuracy from fewer weights (here {conv_place.total:,} against {dense_place.total:,}, "
        f"{dense_place.total / conv_place.total:.1f} times fewer) and a narrower training − validation gap. The "
        f"runs are {agree}: validation accuracy was {_direction(accuracy, conv)} (the difference above), and the "
        f"gap was {_gap(conv):.2f} against {_gap(dense):.2f}{_wider_gap(results, conv, dense)}."
    ]


def _wider_gap(results: Results, arm: ArmResult, reference: ArmResult) -> str:
    """Where ``arm``'s gap is the wider but it also fit its training images better: a narrow gap that
    comes from learning less."""
    train = facts.difference(results, arm, reference, "train_accuracy")
    if _gap(arm) <= _gap(reference) or train is None or train.direction != "higher":
        return ""
    fitted = [facts.average(a.values("train_accuracy")) for a in (arm, reference)]
    return (
        f", but {name(arm.name)} also fit its training images better (training accuracy {fitted[0]:.2f} against "
        f"{fitted[1]:.2f}): {name(reference.name)}'s narrower gap comes from learning less, not from "
        "generalizing better"
    )


def _kernel(size: Any) -> str:
    """'5×5' for a kernel given as 5 or (5, 5)."""
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    return f"{height}×{width}"


def _direction(d: Any, arm: ArmResult) -> str:
    if d is None or d.direction == "same":
        return "the same within its error"
    return f"{d.direction} for {name(arm.name)}"


@mechanism("early-stopping")
def early_stopping(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    text = []
    for arm in arms:
        stopping = arm.settings.get("early_stopping") or {}
        if not stopping:
            continue
        runs, budget = arm.learned_runs(), int(arm.settings["epochs"])
        patience, monitor = int(stopping.get("patience", 0)), str(stopping.get("monitor", "val_loss"))
        watched = measure_names.words(monitor) if monitor in results_module.MEASURES else monitor
        at_minimum = sum(run.evaluated_epoch == f.shape.best_epoch for run, f in zip(runs, fits[arm.name], strict=True))
        on_time = sum(run.stopped_epoch == min(run.evaluated_epoch + patience, budget) for run in runs)
        text.append(
            f"Early stopping watches the {watched} and ends training once it has not improved for "
            f"{epochs(patience)}, then restores the best epoch's weights; it predicts runs that end "
            f"{epochs(patience)} after their best epoch, or at the budget's {budget}. In {name(arm.name)}, the "
            f"restored epoch was the validation-loss minimum in {at_minimum} of {len(runs)} runs and {on_time} "
            f"of {len(runs)} runs ended as predicted, at "
            f"{facts.run_epochs([r.stopped_epoch for r in runs])}."
        )
    return text


@mechanism("data-size")
def data_size(results: Results, arms: Sequence[ArmResult], fits: Fits) -> list[str]:
    ordered = sorted(arms, key=lambda a: a.settings["train_size"] or 0)
    small, large = ordered[0], ordered[-1]
    narrower = _gap(large) < _gap(small)
    return [
        f"With more images, the same {facts.parameter_place(results, large).total:,} weights cannot fit the "
        "particulars of each image as closely, which predicts a training − validation gap that narrows as the "
        f"set grows; the runs are {'consistent' if narrower else 'inconsistent'} with that: the gap was "
        f"{_gap(small):.2f} with {small.settings['train_size']:,} images and {_gap(large):.2f} with "
        f"{large.settings['train_size']:,}."
    ]
