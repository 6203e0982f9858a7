# Local stand-in for the official Node image (node:<version>-<debian>-slim),
# built by deploy/containers/build-images.sh where no image registry answers.
# Node and npm from Debian's packages; the user `node` (uid 1000) and the
# working directory the official image has, so the product Dockerfile runs
# unchanged on either.
ARG BASE
FROM ${BASE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends nodejs npm \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --uid 1000 --user-group --create-home --shell /bin/bash node
CMD ["node"]
