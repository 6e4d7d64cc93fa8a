"""Write requirements-gpu.txt from requirements.txt: every line but the TensorFlow ones, then the
CUDA builds of TensorFlow and JAX with their CUDA libraries (the lines after CUDA_MARKER, kept).

    python scripts/gpu_requirements.py

Run it after changing requirements.txt; tests/test_requirements.py fails while the two disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUDA_MARKER = "# the GPU builds (KERAS_BACKEND=tensorflow or jax) and their CUDA libraries"
TENSORFLOW = re.compile(r"^tensorflow(_cpu)?==")


def main() -> None:
    gpu = (ROOT / "requirements-gpu.txt").read_text().splitlines()
    header = [line for line in gpu[: gpu.index(CUDA_MARKER)] if line.startswith("#")]
    cuda = gpu[gpu.index(CUDA_MARKER) :]
    cpu = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not TENSORFLOW.match(line)
    ]
    (ROOT / "requirements-gpu.txt").write_text("\n".join(header + cpu + cuda) + "\n")


if __name__ == "__main__":
    main()
