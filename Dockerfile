# One image for every ctstation service; compose.yaml picks the subcommand.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contract contract
COPY ctstation ctstation
COPY executors executors
COPY gateway gateway
COPY orchestrator orchestrator
RUN pip install --no-cache-dir .
ENTRYPOINT ["ctstation"]
