# The tsetcd operator image: `docker build -f hack/images/operator.Dockerfile -t tsetcd-operator:dev .` (from the repo root).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY node ./node
COPY operator ./operator
COPY hack ./hack
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "/app/dist/operator/main.js"]
