# photoflow: one static binary for the worker (and web) and one for the starter.
# Build: docker build -t photoflow .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: the SQLite driver is pure Go, so the binaries are static and run on distroless.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/worker ./worker \
 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/starter ./starter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /usr/local/bin/
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/worker"]
