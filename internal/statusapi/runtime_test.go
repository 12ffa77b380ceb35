package statusapi

import (
	"runtime"
	"testing"
)

func TestReadRuntime(t *testing.T) {
	before := ReadRuntime()
	if got, want := before.GOMAXPROCS, runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS = %d, want %d", got, want)
	}
	if before.Goroutines < 1 {
		t.Errorf("Goroutines = %d, want ≥ 1", before.Goroutines)
	}
	done := make(chan struct{})
	for range 64 {
		go func() { done <- struct{}{} }()
		<-done
	}
	if after := ReadRuntime(); after.SchedEvents < before.SchedEvents {
		t.Errorf("SchedEvents went back from %d to %d", before.SchedEvents, after.SchedEvents)
	}
}
