"""Model ids the tests name: one spelling, shared by every folder."""

from __future__ import annotations

# The embedded engine's bundled model (SmolLM2 135M Instruct), as the arena lists it.
SMOL = "local:smollm2-135m-instruct"
