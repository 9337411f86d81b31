"""Continuous batching for the embedded engine: one llama.cpp context and one decode loop per
loaded model, every running answer of that model a sequence of its own in each step's batch."""
