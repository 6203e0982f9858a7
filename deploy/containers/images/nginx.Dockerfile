# Local stand-in for the official nginx image (nginx:<version>-alpine), built
# by deploy/containers/build-images.sh where no image registry answers. The
# official image's contract, kept here: config at /etc/nginx/nginx.conf, logs
# to the container's stdout/stderr, `nginx -g 'daemon off;'`, SIGQUIT for a
# graceful stop, and wget for the compose healthcheck.
ARG BASE
FROM ${BASE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends nginx wget \
  && rm -rf /var/lib/apt/lists/* \
  && ln -sf /dev/stdout /var/log/nginx/access.log \
  && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
