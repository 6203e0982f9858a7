# No `# syntax=` line: it makes BuildKit pull a frontend image before anything
# else, which fails wherever no registry answers; nothing here needs a newer
# frontend than the one built into the engine.
#
# One image for the three Conclave services; the command picks the service:
#   docker build -t conclave-server .                 (final stage: runtime)
#   docker run conclave-server dist/gateway.mjs       (default: dist/membership.mjs)
#   docker build --target tools -t conclave-tools .   (operator CLI, one-shot jobs)
# Built and booted by `npm run test:containers` (test/containers/, on a Node
# image built from Debian's packages: NODE_IMAGE, deploy/containers/). Checked
# without an engine: test/deploy/dockerfile.test.ts (stages, user, no dev
# dependencies in the final stage) and test/deploy/service-bundle.test.ts (the
# build stage's bundle command, run and started against a real nats-server).
#
# Why the services are bundled rather than run through tsx in production:
# tsx is a devDependency. Keeping it as the runtime would put a compiler
# (tsx + esbuild, ~10 MB) in the production image, recompile every module at
# each start, and blur "no dev dependencies in the final image". Compiling with
# tsc does not work either: the workspace packages export their TypeScript
# sources (`"exports": {".": "./src/index.ts"}`), which plain Node cannot load.
# So the build stage bundles each service with esbuild (the same transform tsx
# applies in tests) into one ES module: libs/* inlined, npm dependencies left
# external and installed with `npm ci --omit=dev`. The bundler refuses an
# external package that is not a production dependency. The cost: the image
# runs bundled code rather than the files the tests import, so stack traces go
# through source maps (--enable-source-maps), and a change in how a service is
# assembled is only seen in the image once rebuilt.
# The operator CLI (bootstrap, projection rebuild) is still written to run under
# tsx, so it ships in a separate `tools` image with dev dependencies; that image
# serves no traffic.

# Node 24, the active LTS line: Node 20 is past its end of life and several
# dependencies declare Node >= 22 (npm warns at every install on 20). The
# development machines still run the suite on Node 20.20; the container suite
# runs the same bundles on Node 24 (docs/operations.md). Overridable
# (NODE_IMAGE) by an image with the same contract: node + npm, user `node`
# (uid 1000). Pin a digest for reproducible builds.
ARG NODE_IMAGE=node:24.22.2-trixie-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

# Only the workspace manifests, so `npm ci` layers are reused until a manifest changes.
FROM base AS manifests
COPY libs libs
COPY services services
RUN find libs services -type f ! -name package.json -delete && find libs services -type d -empty -delete

# Production dependencies only: what the runtime image gets. No package in the
# lockfile needs an install script except esbuild (dev; its platform binary comes
# as an optional dependency). The workspace links are dropped: they would point at
# sources the runtime image does not have (the bundles inline them).
FROM base AS prod-deps
COPY package.json package-lock.json ./
COPY --from=manifests /app/libs libs
COPY --from=manifests /app/services services
RUN npm ci --omit=dev --ignore-scripts && rm -rf node_modules/@conclave

# Everything, dev dependencies included: for the build and the tools image.
FROM base AS all-deps
COPY package.json package-lock.json ./
COPY --from=manifests /app/libs libs
COPY --from=manifests /app/services services
RUN npm ci

FROM all-deps AS build
COPY tsconfig.json ./
COPY libs libs
COPY services services
COPY deploy/docker deploy/docker
RUN node --import tsx deploy/docker/service-bundle.ts dist membership gateway blob access

# Operator toolbox (not a server): the workspace sources and tsx, for one-shot CLI
# commands such as the compose `bootstrap` service. Not the final stage.
FROM all-deps AS tools
COPY tsconfig.json ./
COPY libs libs
COPY services services
# A named volume mounted here starts with this owner, so the CLI can write key files.
RUN mkdir /keys && chown node:node /keys
USER node
CMD ["node", "--import", "tsx", "services/cli/src/main.ts", "--help"]

# The service image.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
  CONCLAVE_HOST=0.0.0.0 \
  CONCLAVE_PORT=7420
# Owned by root, read-only to the service user: the process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/dist dist
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 7420
# Readiness: JetStream reachable (GET /readyz). Node's fetch, since the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.CONCLAVE_PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/membership.mjs"]
