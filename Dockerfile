# One image for both the API and the worker; the compose file picks the command.
# The build stage has the dev dependencies: it compiles the TypeScript (npm run build → dist/) and
# the reseller console (Vite → console/dist). The runtime stage has only the production
# dependencies and those two folders, and runs plain `node`: no tsx, no compiler, no source.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm run build:console

FROM node:22-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PORT=3000 \
    DATA_DIR=/app/data

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. npm keeps TypeScript after
# --omit=dev (an optional peer of valibot, which @bull-board/api uses; nothing loads it at run
# time), so it is removed by hand: 30 MB. bin/domain-push.js is the `domain-push` command, which
# runs dist/cli/main.js here (there is no tsx).
COPY package.json package-lock.json ./
COPY bin/domain-push.js ./bin/
RUN npm ci --omit=dev --no-audit --no-fund \
    && rm -rf node_modules/typescript node_modules/@typescript \
    && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# What `npm run start:api` runs, without npm and its `sh -c` between the signal and the process
# (SIGTERM would not reach the server). docker-compose.yml sets the command per service.
CMD ["node", "dist/bin/api.js"]
