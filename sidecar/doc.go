// Package sidecar is podwire's Kubernetes sidecar: apps speak only Unix
// sockets to it, and sidecars speak one multiplexed mTLS link to each other.
package sidecar
