"""Benchmarks: each prints the engine's figure, the floor's figure (the same work in plain SQL) and the ratio."""
