"""Training: one LLaMA model trained collaboratively by hivemind peers.

The loop and its injected parts (swarm, learner, checkpoints, clock), the model and data, the
hardware profiles, and the aux peer that helps the swarm average. Nothing here knows about the
chain: `trainer.pool` builds a run from a pool and pays for its work, and depends on this package,
never the other way round.
"""
