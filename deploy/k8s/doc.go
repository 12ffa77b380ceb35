// Package k8s holds podwire's Kubernetes manifests (a kustomize base and a
// cert-manager overlay) and the test that renders them with `kubectl
// kustomize`, decodes every object strictly into k8s.io/api types and
// checks the invariants the sidecar relies on. It has no Go API.
package k8s
