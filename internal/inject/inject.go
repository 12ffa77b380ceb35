package inject

import (
	"bytes"
	"fmt"
	"io"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Options says what to inject. Zero fields mean their defaults.
type Options struct {
	// Image is the podwire image. Default "podwire:dev".
	Image string
	// ConfigMap holds the sidecar config under the key sidecar.yaml.
	// Default "<workload name>-sidecar".
	ConfigMap string
	// TLSSecret holds tls.crt, tls.key and ca.crt. Default
	// "<workload name>-tls".
	TLSSecret string
	// UID is the user and group the sidecar runs as, and the pod's fsGroup
	// when the pod sets none (the socket files are shared through it).
	// Default 65532.
	UID int64
}

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = "podwire:dev"
	}
	if o.UID == 0 {
		o.UID = 65532
	}
	return o
}

// Result counts what Inject did.
type Result struct {
	Documents int      // documents read
	Injected  []string // "Kind/name" of each workload given the sidecar
}

// docSep splits a YAML stream into documents.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?(\n|$)`)

// Inject reads YAML from r, adds the sidecar to each workload and writes
// the documents to w, separated by "---".
func Inject(r io.Reader, w io.Writer, opts Options) (Result, error) {
	opts = opts.withDefaults()
	in, err := io.ReadAll(r)
	if err != nil {
		return Result{}, fmt.Errorf("read input: %w", err)
	}
	var res Result
	first := true
	for i, doc := range docSep.Split(string(in), -1) {
		if len(bytes.TrimSpace([]byte(stripComments(doc)))) == 0 {
			continue
		}
		res.Documents++
		out, name, err := injectDoc([]byte(doc), opts)
		if err != nil {
			return res, fmt.Errorf("document %d: %w", i+1, err)
		}
		if name != "" {
			res.Injected = append(res.Injected, name)
		}
		if !first {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return res, err
			}
		}
		first = false
		if _, err := w.Write(append(bytes.TrimRight(out, "\n"), '\n')); err != nil {
			return res, err
		}
	}
	return res, nil
}

// stripComments drops comment-only lines, to tell an empty document.
func stripComments(doc string) string { return commentLine.ReplaceAllString(doc, "") }

// commentLine matches a line holding only a comment.
var commentLine = regexp.MustCompile(`(?m)^\s*#.*$`)

// typeMeta is enough of a document to pick its Go type.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// injectDoc injects one document; name is "" when it is not a workload.
func injectDoc(doc []byte, opts Options) (out []byte, name string, err error) {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, "", fmt.Errorf("not YAML: %w", err)
	}
	switch {
	case tm.APIVersion == "apps/v1" && tm.Kind == "Deployment":
		return edit(doc, &appsv1.Deployment{}, func(o *appsv1.Deployment) (string, *corev1.PodSpec) { return o.Name, &o.Spec.Template.Spec }, opts)
	case tm.APIVersion == "apps/v1" && tm.Kind == "StatefulSet":
		return edit(doc, &appsv1.StatefulSet{}, func(o *appsv1.StatefulSet) (string, *corev1.PodSpec) { return o.Name, &o.Spec.Template.Spec }, opts)
	case tm.APIVersion == "apps/v1" && tm.Kind == "DaemonSet":
		return edit(doc, &appsv1.DaemonSet{}, func(o *appsv1.DaemonSet) (string, *corev1.PodSpec) { return o.Name, &o.Spec.Template.Spec }, opts)
	case tm.APIVersion == "batch/v1" && tm.Kind == "Job":
		return edit(doc, &batchv1.Job{}, func(o *batchv1.Job) (string, *corev1.PodSpec) { return o.Name, &o.Spec.Template.Spec }, opts)
	case tm.APIVersion == "v1" && tm.Kind == "Pod":
		return edit(doc, &corev1.Pod{}, func(o *corev1.Pod) (string, *corev1.PodSpec) { return o.Name, &o.Spec }, opts)
	}
	return doc, "", nil
}

// edit decodes doc into obj, injects its pod spec and encodes it again.
func edit[T any](doc []byte, obj *T, spec func(*T) (string, *corev1.PodSpec), opts Options) ([]byte, string, error) {
	if err := yaml.Unmarshal(doc, obj); err != nil {
		return nil, "", fmt.Errorf("decode: %w", err)
	}
	name, ps := spec(obj)
	if name == "" {
		return nil, "", fmt.Errorf("metadata.name is empty; name the workload")
	}
	injectPodSpec(ps, name, opts)
	out, err := yaml.Marshal(obj)
	if err != nil {
		return nil, "", fmt.Errorf("encode: %w", err)
	}
	var tm typeMeta
	_ = yaml.Unmarshal(doc, &tm)
	return out, tm.Kind + "/" + name, nil
}
