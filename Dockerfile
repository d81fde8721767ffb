# One image for both the API and the worker; the compose file picks the command.
# The project runs its TypeScript through tsx (a runtime dependency), so there is no build step.
FROM node:20-slim

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
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# What `npm run start:api` runs, without npm and its `sh -c` between the signal and the process
# (SIGTERM would not reach the server). docker-compose.yml sets the command per service.
CMD ["node", "--import", "tsx", "bin/api.ts"]
