"""Named actions: each state change opens its transaction, writes, commits and returns a result."""
