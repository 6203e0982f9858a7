# Local stand-in for the official NATS image (nats:<version>-alpine), built by
# deploy/containers/build-images.sh where no image registry answers. Debian's
# nats-server is dynamically linked, hence a Debian base rather than scratch.
# wget: the compose healthcheck's HTTP client, which the official -alpine
# variant carries (busybox); the image contract is "nats-server, sh, wget".
ARG BASE
FROM ${BASE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends nats-server wget \
  && rm -rf /var/lib/apt/lists/*
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
CMD ["--help"]
