"""Model adapters: one module per kind of model source (``hf`` loads transformers checkpoints)."""
