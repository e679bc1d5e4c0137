"""Hypothesis profiles of the fuzz suite, and the per-machine budget under the CI profile.

- `ci` is Hypothesis's built-in profile, loaded when `CI=true` (derandomized, no database). The
  suite does not redefine it (the rest of the test suite shares it); instead each state machine
  sets its own example and step budget while `ci` or `default` is active, sized so that the whole
  of `pytest fuzz/` stays within a few minutes on two cores.
- `dev`: a quick local loop that remembers failures in the local database.
- `deep`: `pytest fuzz/ --hypothesis-profile=deep`, at least 100,000 stateful steps in all.
- `mutants`: what `fuzz/mutants.py` runs: the `ci` profile without the shrink phase (a mutant is
  killed by the first failing example; shrinking it would only cost time).
- `coverage`: what `make coverage` runs: the `ci` profile with a quarter of each machine's budget,
  since coverage.py's tracing makes every step several times slower.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("dev", max_examples=20, stateful_step_count=40, **_COMMON)
settings.register_profile("deep", max_examples=400, stateful_step_count=120, **_COMMON)
settings.register_profile("coverage", parent=settings.get_profile("ci"))
settings.register_profile(
    "mutants",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
)

# Profiles under which a machine's own budget applies; the others set the budget themselves.
_BUDGETED = {"default", "ci", "mutants"}


def machine_settings(examples: int, steps: int = 50) -> settings:
    """Settings of one state machine: its CI budget under `ci`/`default` (a quarter of it under
    `coverage`), else the profile's."""
    profile = settings.get_current_profile_name()
    if profile in _BUDGETED:
        return settings(max_examples=examples, stateful_step_count=steps, **_COMMON)
    if profile == "coverage":
        return settings(max_examples=max(examples // 4, 1), stateful_step_count=steps, **_COMMON)
    return settings(**_COMMON)


# Without CI=true Hypothesis runs its `default` profile, whose 200 ms deadline fails the signature
# properties (eth-account signing) on a loaded machine: `make test` on a developer's two cores runs
# them beside the rest of the suite. No deadline there either, as in `ci`.
if settings.get_current_profile_name() == "default":
    settings.register_profile("default", **_COMMON)
    settings.load_profile("default")
