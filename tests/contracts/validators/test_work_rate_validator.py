"""WorkRateValidator: units <= computeUnits * rate * elapsed."""

import boa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.utils.deployers import VALIDATION_DEPLOYER
from tests.utils.scenario import RATE

NODE = "0x" + "11" * 20


def test_rate_bound_is_inclusive(system):
    v = system.work_validation
    assert v.MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND() == RATE
    assert v.validateWork(1, NODE, 10, 10 * RATE * 60, 60)
    assert not v.validateWork(1, NODE, 10, 10 * RATE * 60 + 1, 60)
    assert not v.validateWork(1, NODE, 10, 1, 0)


# no deadline: a loaded CI machine must not fail a test that checks values, not time
@settings(deadline=None)
@given(units=st.integers(0, 2**64), cu=st.integers(0, 2**64), elapsed=st.integers(0, 2**40))
def test_rate_bound_fuzzed(system, units, cu, elapsed):
    assert system.work_validation.validateWork(1, NODE, cu, units, elapsed) == (units <= cu * RATE * elapsed)


def test_zero_rate_refused(admin):
    with boa.env.prank(admin), boa.reverts("WorkRateValidator: zero rate"):
        VALIDATION_DEPLOYER.deploy(0)
