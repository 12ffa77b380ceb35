package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
)

// ErrSetup marks a Setup failure: an OTEL_* variable names an unknown
// exporter or protocol, or an exporter could not be built.
var ErrSetup = errors.New("podwire/telemetry: OpenTelemetry setup failed")

// Telemetry holds the tracer and meter providers Setup built from the
// environment. A nil or disabled Telemetry gives no options and its
// Shutdown does nothing. Safe for concurrent use.
type Telemetry struct {
	tp   *sdktrace.TracerProvider // nil when traces are off
	mp   *sdkmetric.MeterProvider // nil when metrics are off
	prop propagation.TextMapPropagator
}

// Setup reads the OTEL_* environment (see the package doc) and builds the
// providers it asks for, naming the resource service (OTEL_SERVICE_NAME
// wins). It returns a disabled Telemetry, and no error, when the
// environment asks for nothing.
func Setup(ctx context.Context, service string) (*Telemetry, error) {
	return setup(ctx, service, os.LookupEnv)
}

// setup is Setup over lookup, for tests.
func setup(ctx context.Context, service string, lookup func(string) (string, bool)) (*Telemetry, error) {
	traces, metrics := wanted(lookup)
	t := &Telemetry{prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	if !traces && !metrics {
		return t, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return nil, fmt.Errorf("%w: resource: %v (check OTEL_RESOURCE_ATTRIBUTES)", ErrSetup, err)
	}
	if traces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: traces: %v (check OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL)", ErrSetup, err)
		}
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	}
	if metrics {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			_ = t.Shutdown(ctx)
			return nil, fmt.Errorf("%w: metrics: %v (check OTEL_METRICS_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL)", ErrSetup, err)
		}
		t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithResource(res))
	}
	return t, nil
}

// wanted decides from the environment which signals are exported.
func wanted(lookup func(string) (string, bool)) (traces, metrics bool) {
	if v, ok := lookup("OTEL_SDK_DISABLED"); ok {
		if off, _ := strconv.ParseBool(v); off {
			return false, false
		}
	}
	set := func(k string) bool { v, ok := lookup(k); return ok && v != "" }
	signal := func(exporterVar, endpointVar string) bool {
		if v, ok := lookup(exporterVar); ok && v != "" {
			return v != "none"
		}
		return set("OTEL_EXPORTER_OTLP_ENDPOINT") || set(endpointVar)
	}
	return signal("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		signal("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
}

// Enabled reports whether traces or metrics are exported.
func (t *Telemetry) Enabled() bool { return t != nil && (t.tp != nil || t.mp != nil) }

// TracerProvider returns the provider of the configured traces, or nil
// when traces are off.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp
}

// MeterProvider returns the provider of the configured metrics, or nil
// when metrics are off.
func (t *Telemetry) MeterProvider() metric.MeterProvider {
	if t == nil || t.mp == nil {
		return nil
	}
	return t.mp
}

// otelOptions are the otelgrpc options of t's providers.
func (t *Telemetry) otelOptions() []otelgrpc.Option {
	opts := []otelgrpc.Option{otelgrpc.WithPropagators(t.prop)}
	if t.tp != nil {
		opts = append(opts, otelgrpc.WithTracerProvider(t.tp))
	} else {
		opts = append(opts, otelgrpc.WithTracerProvider(noop.NewTracerProvider()))
	}
	if t.mp != nil {
		opts = append(opts, otelgrpc.WithMeterProvider(t.mp))
	}
	return opts
}

// ServerOptions returns the grpc.ServerOption that instruments a server
// (otelgrpc's server stats handler), or none when t is disabled.
func (t *Telemetry) ServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(t.otelOptions()...))}
}

// DialOptions returns the grpc.DialOption that instruments a client
// (otelgrpc's client stats handler), or none when t is disabled. With
// transport.Dial pass them as transport.WithGRPCOptions(t.DialOptions()...).
func (t *Telemetry) DialOptions() []grpc.DialOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(t.otelOptions()...))}
}

// Shutdown flushes and stops the exporters within ctx. Safe to call on a
// nil or disabled Telemetry, and twice.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	if t.mp != nil {
		if err := t.mp.Shutdown(ctx); err != nil && !errors.Is(err, sdkmetric.ErrReaderShutdown) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
