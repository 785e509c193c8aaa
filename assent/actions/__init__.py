"""Named actions: each state change opens its write transaction, writes, and returns."""
