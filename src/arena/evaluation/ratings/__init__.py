"""Ratings from pairwise battles: battles and their counts per pair (pairs), the Bradley-Terry
fit (fit) and its solver, and the standings built from stored votes and verdicts (standings)."""
