"""Ratings from pairwise battles: the battles and their counts per pair, the Bradley-Terry fit and its solver."""
