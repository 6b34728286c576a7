"""Fuzzing of every parser: real samples (``corpus``), the contracts each parser must keep, and the
Hypothesis property tests run in CI. ``benchmarks/fuzz.py`` runs the same contracts on a million
mutated inputs."""
