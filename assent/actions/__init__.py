"""Named actions: each state change opens its write transaction, builds `Writer`, commits and returns a result."""
