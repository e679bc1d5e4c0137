"""injective-ai-hub client: build, deploy and drive the six contracts on Injective's EVM."""

__version__ = "0.1.0"
