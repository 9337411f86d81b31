"""Ratings from pairwise battles: the battles, the Bradley-Terry fit and its solver."""
