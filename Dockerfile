# HeroDB-TS server image.
#
#   docker build -t herodb .
#   docker run -d --name herodb -p 127.0.0.1:5555:5555 -p 127.0.0.1:3000:3000 \
#     -v herodb-data:/data -v "$PWD/admin-secret:/run/secrets/admin_secret:ro" \
#     -e HERODB_ADMIN_SECRET_FILE=/run/secrets/admin_secret herodb
#
# The admin secret comes from HERODB_ADMIN_SECRET_FILE (a mounted secret file, preferred) or
# HERODB_ADMIN_SECRET. Any other option is a flag after the image name (it replaces the default
# CMD below, so keep --data-dir /data --host 0.0.0.0) or a HERODB_* variable. The server runs as
# user herodb (uid 10001); /data must be writable by it (a new named volume is).
# docs/operations.md has the details, deploy/ the compose, Kubernetes and systemd files.

ARG NODE_IMAGE=node:24-trixie-slim

# Production dependencies only. The `node` devDependency pins Node for development; the image's
# own Node 24 runs the server. lmdb, msgpackr-extract and sodium-native ship prebuilt binaries
# for Linux x64 and arm64 (glibc), so no compiler is needed.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 herodb \
  && useradd --system --uid 10001 --gid herodb --home-dir /data --shell /usr/sbin/nologin herodb \
  && mkdir -p /data /etc/herodb/tls \
  && chown herodb:herodb /data /etc/herodb/tls \
  && chmod 0700 /data /etc/herodb/tls
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json is read at run time (the version, and "type": "module" for src/*.ts).
COPY package.json ./
COPY bin ./bin
COPY src ./src
USER herodb
VOLUME /data
# RESP, HTTP JSON-RPC and probes, Raft (cluster; RESP port + 1000).
EXPOSE 5555 3000 6555
# Liveness: /health answers 200 while the process serves HTTP, asked on 127.0.0.1 (which the
# default --host 0.0.0.0 covers) with node's fetch: slim images have no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HERODB_API_PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/src/main.ts"]
CMD ["--data-dir", "/data", "--host", "0.0.0.0"]
