# Minimal image; the packaging issue completes it (healthcheck, daemon mode, chart).
# Build: compile TypeScript and better-sqlite3 (from source when no prebuilt binary downloads).
FROM node:22-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN ln -s /app/dist/cli.js /usr/local/bin/convsync && mkdir -p /var/lib/convsync && chown 10001:10001 /var/lib/convsync
USER 10001:10001
VOLUME ["/var/lib/convsync"]
ENTRYPOINT ["/usr/bin/tini", "--", "convsync"]
CMD ["sync"]
