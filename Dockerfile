# syntax=docker/dockerfile:1
# Build stage: compile TypeScript and the native SQLite binding.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, non-root.
FROM node:20.20.2-bookworm-slim
# The listen port is server.port in the configuration file (default 8080); no PORT variable is read.
ENV NODE_ENV=production \
    BRIDGE_CONFIG=/config/bridge.yaml
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /config && chown node:node /data
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# The console's script and stylesheet, found beside package.json at run time.
COPY --chown=node:node public ./public
# The operator CLI (package.json "bin") on PATH: `docker exec … sdrive-ftp-bridge check-config`.
RUN chmod 755 /app/dist/src/cli.js && ln -s /app/dist/src/cli.js /usr/local/bin/sdrive-ftp-bridge
USER node
VOLUME ["/data"]
EXPOSE 8080
# Asks /healthz on the host and port of $BRIDGE_CONFIG's server section, the ones the service listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/src/healthcheck.js"]
# tini forwards SIGTERM to node so the graceful shutdown runs.
ENTRYPOINT ["/usr/bin/tini", "--"]
# Node flags: see src/node-flags.ts.
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/src/server.js"]
