// Package mux carries many logical streams over one connection with
// hashicorp/yamux, shaped for gRPC channels and raw byte streams. It never
// imports gRPC.
package mux
