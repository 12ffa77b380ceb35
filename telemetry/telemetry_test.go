package telemetry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWanted: which OTEL_* settings turn traces and metrics on; nothing
// set means off.
func TestWanted(t *testing.T) {
	tests := []struct {
		name            string
		env             map[string]string
		traces, metrics bool
	}{
		{"nothing set", nil, false, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true, true},
		{"empty endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, false, false},
		{"traces endpoint only", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true, false},
		{"metrics endpoint only", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"}, false, true},
		{"exporter named", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, false},
		{"metrics prometheus", map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"}, false, true},
		{"endpoint but traces none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false, true},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false, false},
		{"sdk disabled false", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "false"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			if tr, m := wanted(lookup); tr != tt.traces || m != tt.metrics {
				t.Errorf("wanted = traces %v metrics %v, want %v %v", tr, m, tt.traces, tt.metrics)
			}
		})
	}
}

// TestSetupDisabled: without OTEL_* a Telemetry gives no options and shuts
// down cleanly, as does a nil one.
func TestSetupDisabled(t *testing.T) {
	tel, err := setup(t.Context(), "svc", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var nilTel *Telemetry
	for _, x := range []*Telemetry{tel, nilTel} {
		if x.Enabled() || len(x.ServerOptions()) != 0 || len(x.DialOptions()) != 0 || x.TracerProvider() != nil || x.MeterProvider() != nil {
			t.Errorf("disabled Telemetry %+v gives options or providers", x)
		}
		if err := x.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	}
}

// TestSetupBadExporter: an unknown exporter name is an error that says
// which variable to check.
func TestSetupBadExporter(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin-typo") // the exporters read the process environment
	_, err := Setup(t.Context(), "svc")
	if !errors.Is(err, ErrSetup) {
		t.Errorf("setup with OTEL_TRACES_EXPORTER=zipkin-typo = %v, want ErrSetup", err)
	}
}

// TestSetupBoth: with an endpoint both providers exist, options are
// given, and Shutdown twice is fine.
func TestSetupBoth(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}
	tel, err := setup(t.Context(), "svc", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if tel.TracerProvider() == nil || tel.MeterProvider() == nil || len(tel.ServerOptions()) != 1 || len(tel.DialOptions()) != 1 {
		t.Errorf("Telemetry %+v: want both providers and one server and one dial option", tel)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_ = tel.Shutdown(ctx) // nothing listens on :1; the flush may fail
	_ = tel.Shutdown(ctx)
}
