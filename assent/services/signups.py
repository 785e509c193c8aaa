"""What signups through a form share that is not a state change (that is
`assent.actions.signups.submit_form`): their rate limits. The public form keys that let a
brand's own website post them are `services/form_keys.py`."""

from __future__ import annotations

import datetime as dt

from assent.services.ratelimit import Limit

PER_CLIENT = Limit("signup-client", 20, dt.timedelta(hours=1))
PER_ADDRESS = Limit("signup-address", 5, dt.timedelta(hours=1))
