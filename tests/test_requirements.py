"""The pinned files: one version of everything, on every platform and in the GPU environment."""

from __future__ import annotations

import re

from coursebook.book import paths

TENSORFLOW = re.compile(r"^tensorflow(_cpu)?(\[[^\]]*\])?==")


def _pins(name: str) -> list[str]:
    lines = (paths.ROOT / name).read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_every_line_is_pinned_to_one_version():
    for name in ("requirements.txt", "requirements-gpu.txt"):
        for line in _pins(name):
            assert re.match(r"^[A-Za-z0-9_.\-]+(\[[a-z0-9\-,]+\])?==[0-9][^ ;]*( *; *.+)?$", line), (name, line)


def test_the_gpu_file_is_the_cpu_file_with_cuda_builds():
    cpu, gpu = _pins("requirements.txt"), _pins("requirements-gpu.txt")
    assert [line for line in cpu if not TENSORFLOW.match(line)] == [line for line in gpu[: len(cpu) - 2]]
    cuda = gpu[len(cpu) - 2 :]
    assert cuda[:2] == ["tensorflow[and-cuda]==2.21.0", "jax[cuda12]==0.10.2"]
    assert all(line.startswith(("nvidia-", "jax-cuda12-")) for line in cuda[2:])
    newest = [line for line in cpu if 'python_full_version < "3.11.5"' not in line]  # the GPU environment's Pythons
    versions = {line.split("==")[0]: line.split("==")[1].split(";")[0].strip() for line in newest}
    assert cuda[1].endswith("==" + versions["jax"]) and cuda[0].endswith("==" + versions["tensorflow_cpu"])


def test_macos_gets_the_same_tensorflow_as_linux_and_windows():
    tensorflow = [line for line in _pins("requirements.txt") if TENSORFLOW.match(line)]
    assert tensorflow == [
        'tensorflow_cpu==2.21.0; sys_platform != "darwin"',
        'tensorflow==2.21.0; sys_platform == "darwin"',
    ]
