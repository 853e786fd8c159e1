"""The process's Redis client, when `KEEL_REDIS_URL` is set: what lets rate limits, realtime
fan-out and jobs reach across processes and replicas. Unset, each of those keeps its state in
the process instead, which is right for one process and wrong for several."""

from redis.asyncio import Redis

from keel.settings import Settings


def connect(settings: Settings) -> Redis | None:
    """A client that connects on first use (so building an app never waits on Redis)."""
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
