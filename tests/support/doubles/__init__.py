"""Protocol doubles: real servers on loopback that speak what the arena talks to (Ollama)."""
