"""Who may do what: principals and roles, authentication, ownership, page guards, throttling, limits."""
