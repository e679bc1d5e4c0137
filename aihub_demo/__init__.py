"""The demo of the whole marketplace, above both `hub` and `trainer`: it orchestrates the two, so
neither imports it.

- `local_chain`: `hub demo`, the main job on a real local chain with real trainer processes
  (needs the `train` and `devnet` extras);
- `in_process`: `hub demo --simulate`, the contract cycle on Titanoboa's in-process EVM (`sim` extra);
- `evm_system`: the whole contract system deployed on Titanoboa, which the contract tests, the fuzz
  suite and the gas benchmark reuse;
- `command`: the `hub demo` command, added to `hub` through the `injective_ai_hub.commands` entry
  point group (`hub` discovers it at run time and never imports this package by name).
"""
