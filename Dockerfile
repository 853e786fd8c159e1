# keel: every app behind one server. Build: docker build -t keel .

# The admin console (console/, Vue): Vite builds it into src/keel/console/dist; only the built
# files go into the image, which needs no Node.
FROM node:20-slim AS console
WORKDIR /build
COPY console/package.json console/package-lock.json ./console/
RUN cd console && npm ci --no-audit --no-fund
COPY console ./console
RUN cd console && npm run build

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEEL_DATA_DIR=/data

WORKDIR /app

# A regular (non-editable) install: the image runs the installed package, not /app/src.
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=console /build/src/keel/console/dist ./src/keel/console/dist
RUN pip install . \
 && useradd --system --create-home --uid 10001 keel \
 && mkdir -p /data \
 && chown keel:keel /data

USER keel
# SQLite files (for apps without a database URL) and the workers' shared metrics live here.
VOLUME ["/data"]
EXPOSE 8000

CMD ["keel", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
