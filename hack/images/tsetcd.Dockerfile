# The tsetcd member image: `docker build -f hack/images/tsetcd.Dockerfile -t tsetcd:dev .` (from the repo root).
# Entrypoint `tsetcd` takes etcd's flags and ETCD_* env, as the operator's StatefulSet passes them.
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
COPY node/proto ./node/proto
RUN printf '#!/bin/sh\nexec node --enable-source-maps /app/dist/node/main.js "$@"\n' > /usr/local/bin/tsetcd \
 && chmod +x /usr/local/bin/tsetcd \
 && mkdir -p /var/lib/tsetcd && chown 65532:65532 /var/lib/tsetcd
USER 65532:65532
EXPOSE 2379 2380 2381
VOLUME ["/var/lib/tsetcd"]
ENTRYPOINT ["tsetcd"]
