# syntax=docker/dockerfile:1
# The OpenTelemetry Collector (contrib) on a pinned Alpine. The upstream image is built FROM
# scratch: no shell and no HTTP client, so compose could not health-check it and services could
# not wait for it (depends_on: service_healthy). The binary is static and runs unchanged here.
FROM otel/opentelemetry-collector-contrib:0.115.0 AS collector

FROM alpine:3.21.0@sha256:21dc6063fd678b478f57c0e13f47560d0ea4eeba26dfc947b2a4f81f686b9f45
RUN addgroup -S -g 10001 otel && adduser -S -D -H -u 10001 -G otel otel
COPY --from=collector /otelcol-contrib /usr/local/bin/otelcol-contrib
USER 10001
# 4317 OTLP gRPC, 4318 OTLP HTTP, 8888 own metrics, 8889 Prometheus exporter, 13133 health.
EXPOSE 4317 4318 8888 8889 13133
ENTRYPOINT ["/usr/local/bin/otelcol-contrib"]
CMD ["--config=/etc/otelcol/config.yaml"]
