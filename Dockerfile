# syntax=docker/dockerfile:1
# AlgoTrade image: one image for every service, the backtest worker and the strategy runner.
#   docker build -t algotrade .
#   docker run -p 8000:8000 algotrade                      # everything in one process, embedded defaults
#   docker run algotrade serve market-data                 # one service (see deploy/ and docs/operations.md)

# ---- deps: production dependencies only, from the lockfile ----
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/strategy/package.json packages/strategy/
COPY packages/adapters/package.json packages/adapters/
COPY packages/services/package.json packages/services/
COPY packages/cli/package.json packages/cli/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: sources run through tsx (no build step), as an unprivileged user ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node packages ./packages
COPY --chown=node:node web ./web
COPY --chown=node:node examples ./examples
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000 8001 8002 8003 8004 8005 8006
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/algotrade.mjs"]
CMD ["start"]
