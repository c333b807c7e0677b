# syntax=docker/dockerfile:1
# The mai-usage sidecar image: build (TypeScript + admin panel), production dependencies, runtime.
# The runtime stage has Node 20, the production node_modules and the built files only, and runs
# as the unprivileged `node` user. Data (SQLite file, generated secrets, backups) lives in /data.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# sqlite3 is native: a prebuilt binary is used when one exists; these build it otherwise.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY sidecar ./sidecar
COPY admin-panel ./admin-panel
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3100 \
    DATABASE_PATH=/data/mai-usage.db
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
COPY --from=build /src/admin-panel/dist ./admin-panel/dist
COPY filter-plugin/mai_usage_filter.py ./filter-plugin/mai_usage_filter.py
# `mai-usage <command>` on the PATH: docker compose exec mai-usage mai-usage verify
RUN chmod +x dist/sidecar/src/cli.js \
  && ln -s /app/dist/sidecar/src/cli.js /usr/local/bin/mai-usage \
  && mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3100
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3100)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The node flags of `npm start`: heap sizing (peak RSS under 150 MB at a million events) and one
# V8 helper thread (more only compete with the request thread on two cores), see bench/README.md.
CMD ["node", "--max-old-space-size=128", "--max-semi-space-size=8", "--v8-pool-size=1", "dist/sidecar/src/main.js"]
