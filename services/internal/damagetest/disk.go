package damagetest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (e.g. "2m") in a temporary directory and
// unmounts it at cleanup. It needs root (CAP_SYS_ADMIN), as the CI and
// the dev VMs have; elsewhere the test fails saying so.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	mnt := filepath.Join(tb.TempDir(), "tmpfs")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		tb.Fatalf("mount a %s tmpfs (this test needs root): %v: %s", size, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// ReadOnly remounts the tmpfs at mnt read-only.
func ReadOnly(tb testing.TB, mnt string) {
	tb.Helper()
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		tb.Fatalf("remount %s read-only: %v: %s", mnt, err, out)
	}
}

// FillDisk writes a filler file in dir until the filesystem is full and
// returns the function that removes it, freeing the space again.
func FillDisk(tb testing.TB, dir string) (free func()) {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("create filler: %v", err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	_ = f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		tb.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			tb.Errorf("remove filler: %v", err)
		}
	}
}
