# The reference stack (agent-stack) as a conventional multi-stage image, for people and CI
# that DO have an image registry:
#
#   docker build -t goldenpath/agent-stack:local .
#   docker-compose -f docker-compose.test.yml up --build
#   goldenpath run --image goldenpath/agent-stack:local ...
#
# goldenpath itself needs no registry: it builds the same binary statically on the host and
# packages it FROM scratch through the engine's classic builder (src/provision/image.rs).
# Both images have the same contract: /agent-stack, PORT=8000, DATA_DIR=/data (a volume),
# HEALTHCHECK `/agent-stack healthcheck`.

FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: cargo reads every member's manifest and target list.
COPY . .
# Plain RUN (no BuildKit cache mounts), so the classic builder and compose v1 can build it too.
RUN cargo build --release --locked -p agent-stack \
 && cp target/release/agent-stack /agent-stack

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data stack \
 && mkdir -p /data && chown stack:stack /data
COPY --from=build /agent-stack /agent-stack
USER stack
ENV PORT=8000 DATA_DIR=/data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/agent-stack", "healthcheck"]
ENTRYPOINT ["/agent-stack"]
