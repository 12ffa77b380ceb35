package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInjectCommand: stdin and -f give the same output; a stream without
// workloads passes through with a note on stderr.
func TestInjectCommand(t *testing.T) {
	clearPodwireEnv(t)
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: web:1}]\n"
	path := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(path, []byte(pod), 0o600); err != nil {
		t.Fatal(err)
	}
	var fromStdin, fromFile, stderr bytes.Buffer
	if err := runInjectFrom(strings.NewReader(pod), []string{"--image", "x/podwire:1"}, &fromStdin, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := runInjectFrom(strings.NewReader(""), []string{"-f", path, "--image", "x/podwire:1"}, &fromFile, &stderr); err != nil {
		t.Fatal(err)
	}
	if fromStdin.String() != fromFile.String() || !strings.Contains(fromStdin.String(), "image: x/podwire:1") {
		t.Errorf("stdin output:\n%s\n-f output:\n%s\nwant equal, with the sidecar image", fromStdin.String(), fromFile.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
	var out bytes.Buffer
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
	if err := runInjectFrom(strings.NewReader(svc), nil, &out, &stderr); err != nil {
		t.Fatal(err)
	}
	if out.String() != svc || !strings.Contains(stderr.String(), "no Deployment") {
		t.Errorf("Service in = %q out, stderr %q; want it unchanged and a note", out.String(), stderr.String())
	}
}
