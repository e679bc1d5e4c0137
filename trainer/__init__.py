"""injective-ai-hub trainer: collaborative LLaMA training with hivemind, bound to a pool on chain."""

__version__ = "0.1.0"
