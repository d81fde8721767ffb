# One image for both the API and the worker; the compose file picks the command.
# The project runs its TypeScript through tsx (a runtime dependency), so there is no build step.
# The reseller console is built with Vite (a dev dependency) in a stage of its own; only the
# static result (console/dist) goes into the image.
FROM node:22-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY console ./console
COPY bin/build-console.ts ./bin/
RUN node --import tsx bin/build-console.ts --force

FROM node:22-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PORT=3000 \
    DATA_DIR=/app/data

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. The test and type-check tools
# are dev dependencies and stay out of the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .
COPY --from=console /app/console/dist ./console/dist
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# What `npm run start:api` runs, without npm and its `sh -c` between the signal and the process
# (SIGTERM would not reach the server). docker-compose.yml sets the command per service.
CMD ["node", "--import", "tsx", "bin/api.ts"]
