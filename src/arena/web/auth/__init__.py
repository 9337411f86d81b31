"""Who may do what, one job per file:

- ``principal.py``: the `Principal` (who is asking) and its roles.
- ``authentication.py``: how a request becomes one: bearer tokens, session cookies, CSRF.
- ``ownership.py``: which objects (conversations, benchmark and judge runs) a principal may read
  or change, by the one rule of ``arena.storage.ownership``.
- ``pages.py``: page guards, which send a browser without a session to /login.
- ``throttle.py``: login throttling after failed passwords (waits that grow, never a lock).
- ``limits.py``: rate limits per caller, and the one budget of generations (per caller and in all).

The route dependencies (`CurrentPrincipal`, `Viewer`, `Evaluator`, `Admin`) are in
`arena.web.deps`, above all of these, so nothing here imports back up.
"""
