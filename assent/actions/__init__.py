"""Named actions: each state change opens its write transaction, writes through `Writer`, and returns a result."""
