"""Who may do what, one job per file:

- ``principal.py``: the `Principal` (who is asking) and its roles.
- ``authentication.py``: how a request becomes one: bearer tokens, session cookies, CSRF.
- ``ownership.py``: whose conversations a principal may read or change.
- ``pages.py``: page guards, which send a browser without a session to /login.
- ``throttle.py``: login throttling after failed passwords (waits that grow, never a lock).
- ``limits.py``: rate limits per caller and the cap on each caller's streams.

The route dependencies (`CurrentPrincipal`, `Viewer`, `Evaluator`, `Admin`) are in
`arena.web.deps`, above all of these, so nothing here imports back up.
"""
