# The Lifeboat worker image: multi-stage, so the final image has no compiler or dev dependencies, and non-root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json eslint.config.mjs ./
COPY src src
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY test test
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# pg_dump/pg_restore of the servers' major version (add postgresql-client-16 etc. for newer servers), redis-cli, zstd, tar.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 redis-tools zstd tar ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY examples examples
RUN mkdir -p /app/lifeboat-backups && chown node:node /app/lifeboat-backups
USER node
# The flag and the variables are worker/nodeFlags.ts's (a smaller young generation; fewer malloc arenas, a fixed mmap threshold).
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=1048576
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/src/cli/main.js"]
CMD ["worker"]
