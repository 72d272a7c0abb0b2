FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir . && useradd --create-home --uid 10001 tower && mkdir -p /var/lib/tower && chown tower /var/lib/tower
USER tower
ENV TOWER_STORAGE__DATA_DIR=/var/lib/tower
EXPOSE 4317 4318 8080
CMD ["tower", "serve"]
