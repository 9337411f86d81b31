"""LLM-as-judge: prompts, the judges that can be asked, verdict parsing, recorded runs."""
