"""Registers the fuzz suite's Hypothesis profiles before pytest loads `--hypothesis-profile`."""

import fuzz.profiles  # noqa: F401
