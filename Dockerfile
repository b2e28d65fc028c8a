FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Dramatiq's idle poll in ms (worker processes): its 1 s default makes reminders up to 1 s late.
ENV dramatiq_worker_timeout=100
WORKDIR /app
# The exact versions and hashes of requirements.lock (`make lock`), not the ranges.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
# Static files with content-hashed names for WhiteNoise (the settings need production values
# to load; these are used for this step only).
RUN DEBUG=0 ALLOWED_HOSTS=localhost SECRET_KEY=collectstatic-only-not-a-secret-key-0123456789abcdef \
    python manage.py collectstatic --noinput
RUN useradd --create-home taskgraph
USER taskgraph
EXPOSE 8000
# Bind address, workers (WEB_CONCURRENCY) and metrics clean-up: gunicorn.conf.py.
CMD ["gunicorn", "core.wsgi:application"]
