# syntax=docker/dockerfile:1
#
# A static, non-root image of the gateway. The binary needs no cgo (SQLite is
# the pure-Go driver), so the runtime stage is distroless/static: no shell, no
# package manager, user 65532. Base images are pinned by digest; when you move
# a tag, move its digest with it (docker buildx imagetools inspect <tag>).
#
# Inside a container the gateway listens on 0.0.0.0, which dev mode (no API
# keys) refuses, so the image starts with a keys file: make a key, keep only
# its hash in api-keys.json, mount it and name it in API_KEYS_FILE.
#
#   docker build -t memory-gateway .
#   KEY="mgw_$(openssl rand -hex 24)"; echo "your admin key: $KEY"
#   printf '{"keys": [{"name": "admin", "sha256": "%s", "workspace": "acme", "role": "ADMIN", "grants": [{"namespace": "", "access": "ADMIN"}]}]}\n' "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)" > api-keys.json
#   docker run --rm -p 127.0.0.1:8080:8080 -v "$PWD/api-keys.json:/etc/memory-gateway/api-keys.json:ro" -e API_KEYS_FILE=/etc/memory-gateway/api-keys.json memory-gateway
#   curl -s 127.0.0.1:8080/graphql -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"query": "{ __typename }"}'

FROM golang:1.26-alpine@sha256:f1ddd9fe14fffc091dd98cb4bfa999f32c5fc77d2f2305ea9f0e2595c5437c14 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version `memory-gateway version` prints (docker build --build-arg VERSION=v1.2.3 .); without it, "dev".
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/memory-gateway/memory-gateway/app.buildVersion=${VERSION}" \
      -o /out/memory-gateway . \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/memory-gateway /usr/local/bin/memory-gateway
# The default SQLite database lives under ./data; /data is the working
# directory and belongs to the image's user.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
# Inside a container the listener must not be loopback-only. Without API keys
# the gateway is in dev mode, which refuses a non-loopback listener: mount a
# keys file and set API_KEYS_FILE, as the example above does (see
# docs/operations.md, "Deploying").
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/memory-gateway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/memory-gateway"]
CMD ["serve"]
