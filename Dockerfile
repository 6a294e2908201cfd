# syntax=docker/dockerfile:1
# cardgate as a container: a static binary (the SQLite driver is pure Go, so CGO is off) on
# distroless, run as its nonroot user. The default command is the sandbox on the embedded store
# in the /data volume; compose.yaml runs it on PostgreSQL behind a load balancer.

FROM golang:1.26 AS build
WORKDIR /src
# The modules first, so that a change to the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/cardgate ./cmd/cardgate \
 && mkdir -p /out/data

# static-debian12 brings CA certificates (an antom upstream is called over HTTPS) and time zone
# data, and no shell. Its nonroot user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cardgate /cardgate
# /data belongs to the user that writes there; a new named volume mounted on it takes this owner.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/cardgate"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data", "/data"]
