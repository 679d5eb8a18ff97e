# goldenpath itself as a conventional multi-stage image, for people and CI that DO have an
# image registry (the distributed load run in deploy/kubernetes/ pulls it from there).
# The build context is the repository root:
#
#   docker build -f deploy/goldenpath.Dockerfile -t goldenpath:local .
#   docker build -f deploy/goldenpath.Dockerfile -t REGISTRY/goldenpath:TAG . && docker push REGISTRY/goldenpath:TAG
#   docker run --rm goldenpath:local --version
#
# Without a registry, `goldenpath image` packages the host's own build instead (README in
# deploy/kubernetes/). Both images have the same contract: ENTRYPOINT goldenpath, the
# repository's features/ and goldenpath.toml under /etc/goldenpath/, uid 10001, /work.

FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: cargo reads every member's manifest and target list, and the
# binary embeds features/ (include_dir!). The root .dockerignore keeps target/ out.
COPY . .
# Plain RUN (no BuildKit cache mounts), so the classic builder and compose v1 can build it too.
# jemalloc (the binary's allocator) is built with the image's make and gcc.
RUN cargo build --release --locked --bin goldenpath \
 && cp target/release/goldenpath /goldenpath

FROM debian:bookworm-slim
# ca-certificates: the usual trust store, for whatever else runs in the image (goldenpath's
# own HTTPS and WebSocket clients carry the Mozilla roots, webpki-roots). The user is
# uid/gid 10001, as the Jobs' securityContext says.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 goldenpath \
 && useradd --system --uid 10001 --gid goldenpath --home-dir /work goldenpath \
 && mkdir -p /work && chown goldenpath:goldenpath /work
COPY --from=build /goldenpath /usr/local/bin/goldenpath
# The features and the configuration of the repository, as a starting point; the
# Kubernetes Jobs mount their own over them (deploy/kubernetes/shards-job.yaml).
COPY features/ /etc/goldenpath/features/
COPY goldenpath.toml /etc/goldenpath/goldenpath.toml
# Numeric, so that runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
# Reports go to ./reports unless --reports or --run-dir say otherwise.
WORKDIR /work
ENTRYPOINT ["goldenpath"]
