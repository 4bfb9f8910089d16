# syntax=docker/dockerfile:1
ARG PY=3.11
FROM python:${PY}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    APP=/app
WORKDIR $APP
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt
COPY . .
FROM alpine AS docs
RUN echo never built for the default target
FROM python:${PY}-slim
COPY --from=build /app /app
USER 1000:1000
CMD ["python", "-m", "app"]
