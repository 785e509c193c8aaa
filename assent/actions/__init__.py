"""Named actions: each state change opens its write transaction, writes, commits, returns a result."""
