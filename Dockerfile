# convsync container image.
#   docker build -t convsync .
#   docker run --init --stop-timeout 30 -v convsync-data:/var/lib/convsync -v $PWD/convsync.yaml:/etc/convsync/convsync.yaml:ro \
#     -v $PWD/secrets:/run/secrets:ro -p 8080:8080 convsync daemon --config /etc/convsync/convsync.yaml
# The build stage runs the commands CI runs (npm ci, npm run build); see test/packaging.

# ---- build: compile TypeScript and better-sqlite3 (from source when no prebuilt binary downloads)
FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev

# ---- runtime: production dependencies only, non-root
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN ln -s /app/dist/cli.js /usr/local/bin/convsync \
 && chmod 0755 /app/dist/cli.js /app/dist/healthcheck.js \
 && mkdir -p /var/lib/convsync \
 && chown 10001:10001 /var/lib/convsync
USER 10001:10001
VOLUME ["/var/lib/convsync"]
EXPOSE 8080
# daemon mode: /healthz answers while the process lives (one-shot `sync` containers end before the first check)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["node", "/app/dist/healthcheck.js"]
# convsync handles SIGTERM/SIGINT itself; run with `docker run --init` (or tini) to reap zombies as PID 1
ENTRYPOINT ["convsync"]
CMD ["daemon"]
