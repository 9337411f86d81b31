"""What an operator sees of a running arena: a request id on every log line (`context`), JSON
logs (`log_format`), Prometheus metrics (`metrics`), and warnings about abuse (`alerts`). The
rest of the app feeds them through the one-line calls in `hooks`."""
