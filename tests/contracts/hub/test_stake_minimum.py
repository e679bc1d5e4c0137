"""setStakeMinimum and calculateMinimumStake."""

import boa
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.contracts import INJ
from tests.utils.scenario import MIN_STAKE, NODE_UNITS, one_event


def test_set_stake_minimum(hub, federator):
    hub.setStakeMinimum(7 * INJ, sender=federator)
    e = one_event(hub, "StakeMinimumUpdated")
    assert (e.previous, e.current) == (MIN_STAKE, 7 * INJ)
    assert hub.minStakePerComputeUnit() == 7 * INJ


def test_set_stake_minimum_only_federator(hub, validator, admin):
    for who in (validator, admin):
        with boa.reverts("AccessControl: missing role"):
            hub.setStakeMinimum(1, sender=who)


def test_calculate_minimum_stake_is_the_seed_formula(hub, added_node, provider):
    # (providerTotalCompute + computeUnits) * min + min
    assert hub.calculateMinimumStake(provider, 0) == (NODE_UNITS + 1) * MIN_STAKE
    assert hub.calculateMinimumStake(provider, 5) == (NODE_UNITS + 5) * MIN_STAKE + MIN_STAKE


# no deadline: a loaded CI machine must not fail a test that checks values, not time
@settings(deadline=None)
@given(units=st.integers(0, 10**30), minimum=st.integers(0, 10_000 * INJ))
def test_calculate_minimum_stake_fuzzed(hub, federator, attacker, units, minimum):
    hub.setStakeMinimum(minimum, sender=federator)
    assert hub.calculateMinimumStake(attacker, units) == units * minimum + minimum
