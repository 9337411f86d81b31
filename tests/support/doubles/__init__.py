"""Test doubles: what the arena talks to, stood in by something a test controls.

    ollama.py          a real server on loopback speaking Ollama's API (`OllamaDouble`)
    judging.py         the Ollama double with a judge model installed (`JudgingOllama`)
    oidc_tokens.py     an OpenID provider signing the ID tokens a real one would not (`TokenDouble`)
    cloud.py           Anthropic's and an OpenAI-compatible cloud API on loopback (`CloudDouble`)
    openai_faults.py   an OpenAI-compatible server that misbehaves on request (`FaultServer`)
    scripted_engine.py in-process engines answering from a script (`ScriptedEngine`, `CountingEngine`)
    payload_engine.py  an in-process engine that answers with the XSS corpus (`PayloadEngine`)
    scripted_judge.py  an in-process judge client answering by a rule (`ScriptedJudge`)
"""
