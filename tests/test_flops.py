"""FLOPs from a model spec, against counts done by hand."""

from __future__ import annotations

from pathlib import Path

from coursebook.course import models


def test_e4742_original_forward_flops_by_hand():
    # multiply-accumulates per image: conv 3x3x3->32 at 32x32, conv 3x3x32->64 at 16x16, conv 3x3x64->128
    # at 8x8 (each after a 2x2 pooling), then dense 4*4*128->128->64->10
    macs = (9 * 3 * 32 * 32 * 32) + (9 * 32 * 64 * 16 * 16) + (9 * 64 * 128 * 8 * 8) + 2048 * 128 + 128 * 64 + 64 * 10
    assert macs == 10_592_896
    assert models.forward_flops("e4742-original") == 2 * macs


def test_strides_valid_padding_and_layers_without_weights():
    spec = models.parse_spec(
        {
            "title": "t",
            "source": "s",
            "input_shape": [9, 9, 2],
            "layers": [
                {"conv": {"filters": 4, "kernel": 3, "strides": 2}},  # valid: 4x4x4 outputs
                "batchnorm",
                {"maxpool": {"size": 2}},
                "gap",  # no multiply-accumulates
                {"dense": {"units": "num_classes"}},
            ],
        },
        path=Path("hand-counted.yaml"),
    )
    assert models.forward_flops(spec, num_classes=3) == 2 * (4 * 4 * 4 * (3 * 3 * 2) + 4 * 3)
