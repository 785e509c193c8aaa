"""Named state changes: each opens the write transaction, builds `Writer`, writes and returns a result."""
