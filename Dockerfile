# One image for the churn API, the one-shot bootstrap job and the alert receiver (docker-compose.yml
# picks the command). Build: docker compose build.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/src

# Dependencies in a layer of their own, before any code: editing src/ does not reinstall them.
# requirements.txt ends with the project itself (-e .); here PYTHONPATH takes its place.
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && grep -v '^-e ' /tmp/requirements.txt > /tmp/runtime.txt \
    && pip install -r /tmp/runtime.txt \
    && rm /tmp/requirements.txt /tmp/runtime.txt

# A user of its own: nothing in the container runs as root.
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin churn

WORKDIR /app
COPY config/ config/
COPY scripts/ scripts/
COPY tutorial/runbooks/ tutorial/runbooks/
COPY src/ src/
# Compose mounts named volumes here; a new volume takes this owner, so the churn user can write.
RUN mkdir data models logs && chown churn:churn data models logs

USER churn
EXPOSE 8000
# The slim image has no curl: the healthcheck is a few lines of standard-library Python.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "churn.ops.healthcheck", "http://127.0.0.1:8000/ready"]
CMD ["python", "scripts/serve.py", "--host", "0.0.0.0", "--port", "8000"]
