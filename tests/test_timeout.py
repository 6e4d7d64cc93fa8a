"""The per-cell time limit: a hung cell fails its chapter, names the cell and the limit, and the
kernel is shut down; the other chapters go on. The limit comes from command line > chapter > profile."""

from __future__ import annotations

import time

import psutil
import pytest

from coursebook.book import cache, runner
from coursebook.book.params import ParameterError
from tests.conftest import write_notebook

SIMPLE = "seed = 0  # [0, ] seed\nnap = 0  # [0, 600] seconds to sleep"


def _kernels() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


def test_a_hung_cell_fails_its_chapter_and_the_others_go_on(mini_project):
    write_notebook(mini_project / "notebooks" / "train.ipynb", SIMPLE, "import time\ntime.sleep(nap)", "print('woke')")
    (mini_project / "params" / "alpha.yaml").write_text(
        "notebook: train.ipynb\ntitle: A\ntimeout: 3\nparameters: {nap: 120}\n"
    )
    (mini_project / "params" / "beta.yaml").write_text("notebook: train.ipynb\ntitle: B\ntimeout: 3\n")
    start = time.monotonic()
    summary = runner.execute_all(runner.plan_book("quick"), log=lambda line: None, live=False)
    assert time.monotonic() - start < 60  # the 120 s sleep was cut short
    outcomes = {o.chapter_id: o for o in summary.outcomes}
    assert outcomes["beta"].status == "executed"
    assert outcomes["alpha"].status == "failed"
    # parameters cell [1], injected parameters [2], the sleeping cell [3]
    assert outcomes["alpha"].error.startswith(
        "cell [3] ran longer than the time limit of 3 s per cell and was stopped (its kernel was shut down); "
        "raise the limit with TIMEOUT=<seconds> or 'timeout' in params/alpha.yaml"
    )
    assert cache.failed_path("alpha").exists() and not cache.output_path("alpha").exists()
    assert _kernels() == []  # no kernel left running


def test_command_line_beats_chapter_file_beats_profile(mini_project):
    profile = mini_project / "params" / "profiles" / "quick.yaml"
    profile.write_text("timeout: 50\ndefaults: {}\nchapters: {}\n")
    assert runner.plan_chapter("beta", "quick", None).timeout == 50
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\ntimeout: 20\n")
    assert runner.plan_chapter("alpha", "quick", None).timeout == 20
    assert runner.plan_chapter("alpha", "quick", None, timeout=7).timeout == 7
    assert runner.plan_chapter("alpha", "quick", None, timeout=0).timeout is None  # 0: no limit
    assert runner.plan_chapter("beta", "smoke", None).timeout is None  # a profile without one


@pytest.mark.parametrize(
    "where, text, message",
    [
        (
            "alpha",
            "notebook: train.ipynb\ntitle: A\ntimeout: soon\n",
            "params/alpha.yaml: key 'timeout': value 'soon' is not allowed (expected seconds per cell, a number > 0, "
            "or 0/null for no limit)",
        ),
        (
            "profile",
            "timeout: -5\ndefaults: {}\n",
            "params/profiles/quick.yaml: key 'timeout': value -5 is not allowed (expected seconds per cell, a number > "
            "0, or 0/null for no limit)",
        ),
    ],
)
def test_a_bad_timeout_is_one_line_naming_file_key_and_value(mini_project, where, text, message):
    target = mini_project / "params" / ("alpha.yaml" if where == "alpha" else "profiles/quick.yaml")
    target.write_text(text)
    with pytest.raises(ParameterError) as err:
        runner.plan_chapter("alpha", "quick", None)
    assert str(err.value) == message


def test_a_bad_command_line_timeout(mini_project):
    with pytest.raises(ParameterError, match=r"^command line: key 'timeout': value -1.0 is not allowed"):
        runner.plan_chapter("alpha", "quick", None, timeout=-1.0)
