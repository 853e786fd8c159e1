"""The coach's background jobs: durable, in its own database (core/jobs.py)."""

from datetime import timedelta

from keel.apps.coach.models import Job
from keel.core.jobs import JobQueue

# An AI run is bounded by the client's timeout times its attempts (20 s x 3 by default), well
# inside the lease; past it, the job is another worker's to finish.
queue = JobQueue(Job, lease=timedelta(minutes=3), max_attempts=4)
