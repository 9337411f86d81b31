"""Text generation behind one interface: embedded llama.cpp, Ollama, OpenAI-compatible servers,
and Anthropic's API for cloud judges."""
