"""Batch benchmarks: plan, prompt sets, runner, claims, control, and reports."""
