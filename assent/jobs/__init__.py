"""Durable jobs: work on many addresses that survives a process kill (SPEC R20, R9).

- `queue` — the job rows: creating one, claiming it with a compare-and-set lease,
  advancing it one chunk at a time, finishing it.
- `worker` — the loop that claims jobs and runs their chunks (`assent worker`, and one
  thread inside `assent serve`).
- `bulk` — the bulk update (R20): validating a request, materializing its selection into
  `job_targets`, and applying one chunk through the `Writer`.
- `reports` — what a user reads back: a job's progress and counts, its per-address outcomes.
"""
