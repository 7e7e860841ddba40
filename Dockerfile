# The pruneguard image: the operator and the evaluation pod run the same program.
#   docker build -t ghcr.io/pruneguard/pruneguard:0.1.0 .
# onnxruntime-node ships its CPU binaries in the npm package; for the CUDA execution provider,
# build FROM an image with CUDA 12 and cuDNN 9 libraries and let onnxruntime-node's install script
# fetch its CUDA binaries (drop onnxruntime-node-install=skip from .npmrc in that build).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
RUN chmod +x dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/pruneguard
USER 65532:65532
ENTRYPOINT ["pruneguard"]
CMD ["--help"]
