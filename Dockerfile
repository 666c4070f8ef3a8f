# One image for every Streamvane process (worker, dispatch, receiver, tools); the command picks.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --uid 10001 streamvane
COPY profiles ./profiles
USER 10001
ENV STREAMVANE_DATA_DIR=/var/lib/streamvane
ENTRYPOINT ["streamvane"]
CMD ["--help"]
