"""The arena's own logic, pure where it can be: compare, blind votes, judges, ratings, benchmarks."""
