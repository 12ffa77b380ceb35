// Package muxprom records the events of podwire mux sessions and pools as
// Prometheus metrics. Package mux defines the mux.Metrics interface and
// does not import Prometheus; this package implements it with collectors
// registered on a registry its caller owns:
//
//	reg := prometheus.NewRegistry()
//	cfg := mux.Config{Metrics: muxprom.New(reg)}
//
// Share one Metrics across the sessions and pools of a registry.
package muxprom
