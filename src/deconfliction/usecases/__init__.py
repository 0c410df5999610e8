"""The use cases: each action one transaction over the store, the engine's tick, the hotline."""
