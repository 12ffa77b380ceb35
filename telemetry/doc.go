// Package telemetry configures OpenTelemetry tracing and metrics for podwire
// servers and clients from the standard OTEL_* environment variables, and
// hands out the gRPC options that instrument them with otelgrpc (stats
// handlers: a server span per call, a client span per call, W3C trace
// context and baggage in the request metadata, and the rpc.server.* /
// rpc.client.* metrics).
//
// Telemetry is off unless the environment asks for it: traces are exported
// when OTEL_TRACES_EXPORTER names an exporter other than "none", or when it
// is unset and OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; metrics likewise with
// OTEL_METRICS_EXPORTER and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.
// OTEL_SDK_DISABLED=true turns both off. The exporters are those of
// go.opentelemetry.io/contrib/exporters/autoexport (OTLP over
// http/protobuf by default, OTEL_EXPORTER_OTLP_PROTOCOL=grpc for gRPC,
// "console", or "prometheus" for metrics), and the resource reads
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
//
//	tel, err := telemetry.Setup(ctx, "purchase")
//	defer tel.Shutdown(context.Background())
//	srv := grpc.NewServer(append(serverOpts, tel.ServerOptions()...)...)
//	cc, err := transport.Dial(ctx, "inventory", transport.WithGRPCOptions(tel.DialOptions()...))
//
// `podwire serve` does this for the sample services. The sidecar needs no
// instrumentation: it copies bytes, so the trace context a client's span
// puts in the request headers reaches the server unchanged, and the
// client and server spans of one call share a trace across the sidecar
// pair.
//
// No global state is set (otel.SetTracerProvider is not called): each
// Telemetry carries its own providers and propagator, so two in one
// process do not interfere. Call Shutdown to flush what is buffered.
package telemetry
