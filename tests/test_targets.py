"""Every accuracy target is reached by the reference solution on 20 of 20 seeds (tools/targets.py)."""

import pytest

from tools.targets import TARGETS, run_targets


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(TARGETS))
def test_reference_solution_reaches_every_target_on_20_seeds(assignment):
    for run in run_targets(assignment, seeds=range(20)):
        assert run.reached == 20, run.summary()
