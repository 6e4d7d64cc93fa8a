"""Data augmentation against the same model without it (Keras CNN assignment, G): how the
validation loss of the two compares, whether each over- or under-fits, and why.

Arms: the reference (the first arm without ``augmentation`` in its settings) and the augmented arm
(the first arm with it); everything else is shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course.prose import comparison
from coursebook.course.explain import fitting
from coursebook.course.explain import measures as m


def augmented(entry: Mapping[str, Any]) -> bool:
    """Whether an arm trains on augmented images."""
    return bool((entry.get("settings") or {}).get("augmentation"))


def arms(results: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(reference arm, augmented arm); a clear error when either is missing."""
    entries = m.as_mapping(results)["arms"]
    plain = [e for e in entries if not augmented(e)]
    aug = [e for e in entries if augmented(e)]
    if not plain or not aug:
        raise ValueError(f"explain 'augmentation' needs an arm with and one without augmentation; arms: "
                         f"{[(e['name'], augmented(e)) for e in entries]}")
    return plain[0], aug[0]


def answer(results: Any) -> str:
    """G: validation losses compared, the fit of each model, the mechanism and the limits."""
    plain, aug = arms(results)
    p, a = plain["name"], aug["name"]

    def values(entry, fn):
        return [fn(run) for run in entry["runs"]]

    lowest = comparison.compare("lowest validation loss", a, values(aug, _lowest), p, values(plain, _lowest),
                              higher_is_better=False)
    final = comparison.compare("last-epoch validation loss", a, values(aug, _last), p, values(plain, _last),
                             higher_is_better=False)
    gap = comparison.compare("validation − training loss gap at the last epoch", a, values(aug, loss_gap), p,
                             values(plain, loss_gap), higher_is_better=False, relative=False)
    train = comparison.compare("training accuracy at the last epoch", a, values(aug, _last_accuracy), p,
                               values(plain, _last_accuracy))
    fits = [fitting.diagnose(results, entry) for entry in (plain, aug)]
    same_epoch = all(fit.still_improving for fit in fits)  # lowest = last in every run: one sentence
    return "\n\n".join([
        "**Validation loss.** " + lowest.sentence + ("" if same_epoch else " " + final.sentence),
        "**Over- or under-fitting?**\n\n" + "\n".join(f"- {fit.text}" for fit in fits),
        "**Why.** " + " ".join(filter(None, [m.near_chance(results, [plain, aug]),
                                             mechanism(gap, train, fits[1], transforms(aug))])),
        "**Limits.** " + _caveat(a, "dropout" in m.layer_types(aug)) + " " + m.limits(results),
    ])


def loss_gap(run: Mapping[str, Any]) -> float:
    """Validation minus training loss at the last epoch trained: where memorizing shows, whichever
    epoch the checkpoint kept."""
    return float(run["history"]["val_loss"][-1]) - float(run["history"]["loss"][-1])


def _last_accuracy(run: Mapping[str, Any]) -> float:
    return float(run["history"]["accuracy"][-1])


def _lowest(run: Mapping[str, Any]) -> float:
    return min(float(v) for v in run["history"]["val_loss"])


def _last(run: Mapping[str, Any]) -> float:
    return float(run["history"]["val_loss"][-1])


TRANSFORMS = {"rotat": "rotated", "translat": "shifted", "shift": "shifted", "flip": "flipped", "zoom": "zoomed",
              "contrast": "with changed contrast", "bright": "with changed brightness", "crop": "cropped"}


def transforms(entry: Mapping[str, Any]) -> str:
    """What the arm's augmentation does to an image, e.g. 'rotated, shifted, flipped'."""
    text = str((entry.get("settings") or {}).get("augmentation")).lower()
    words = list(dict.fromkeys(word for key, word in TRANSFORMS.items() if key in text))
    return ", ".join(words) or "randomly transformed"


def mechanism(gap: comparison.Comparison, train: comparison.Comparison, fit_augmented: fitting.Fit,
              what: str = "randomly transformed") -> str:
    """Why augmentation changed what was measured: an effect is explained only where it was measured
    (its direction, and not within run-to-run noise)."""
    parts = ["Augmentation shows the network a new random variant of every training image in every epoch "
             f"({what}), so it cannot memorize the exact pixels of the training images and has "
             "to learn features that survive these changes, as the validation images need."]
    below = " (negative: validation loss below training loss)" if round(gap.mean_a, 4) < 0 else ""
    if gap.judgement == "better" and gap.exceeds_noise:
        parts.append(f"That is why the validation − training loss gap is smaller{below}: {gap.sentence}")
    elif gap.judgement == "better" and gap.exceeds_noise is None:
        parts.append(f"The validation − training loss gap is smaller{below}, as this predicts: {gap.sentence}")
    else:
        parts.append(f"Here the measured gap does not show that narrowing: {gap.sentence}")
    if train.direction == "lower" and train.exceeds_noise:
        parts.append("The cost is training accuracy: the varied images are harder to fit. " + train.sentence)
    elif train.direction == "lower" and train.exceeds_noise is None:
        parts.append("Training accuracy is lower, the expected cost of harder, varied images: " + train.sentence)
    else:
        parts.append("A cost in training accuracy, the usual price, does not show beyond noise here. "
                     + train.sentence)
    if fit_augmented.still_improving:
        parts.append("The augmented model was still improving at the end; augmented training usually needs "
                     "more epochs, so its validation loss at this budget understates what it can reach.")
    return " ".join(parts)


def _caveat(augmented_name: str, dropout: bool) -> str:
    active = " (and with dropout active)" if dropout else ""
    return (f"The training loss and accuracy of {m.md_name(augmented_name)} are measured on augmented images{active}, "
            "so they describe harder images than the validation set holds: a validation loss below the training "
            "loss is expected here and is not under-fitting by itself.")
