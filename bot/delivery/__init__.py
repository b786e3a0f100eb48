"""Where messages go out: the outbox workers and one module per kind of destination."""
