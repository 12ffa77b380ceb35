//go:build linux

package transport

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hijackEnv makes the test binary a one-shot impostor instead of a test
// run: it removes the socket named by the variable, serves its own there,
// prints "hijacked" and holds it until stdin closes. The tests run it as
// another uid (nobody) to show what a shared socket dir allows.
const hijackEnv = "PODWIRE_TEST_HIJACK_SOCKET"

// nobody is the uid and gid the impostor runs as.
const nobody = 65534

func init() {
	if path := os.Getenv(hijackEnv); path != "" {
		os.Exit(hijack(path))
	}
}

// hijack is the impostor's main.
func hijack(path string) int {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Stdout.WriteString("listen-error " + err.Error() + "\n")
		return 1
	}
	_ = os.Chmod(path, 0o666)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	os.Stdout.WriteString("hijacked\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	ln.Close()
	return 0
}

// startImpostor runs hijack as uid nobody against path and waits until it
// serves there; Cleanup stops it.
func startImpostor(tb testing.TB, path string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatalf("running the impostor as uid %d needs root (CI and the dev VM run tests as root); this process is uid %d", nobody, os.Geteuid())
	}
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	// The go-build directory is private: copy the binary where nobody can run it.
	bin := filepath.Join(filepath.Dir(filepath.Dir(path)), "impostor")
	data, err := os.ReadFile(self)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), hijackEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, NoSetGroups: true}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("impostor: %v", err)
		}
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "hijacked" {
		tb.Fatalf("impostor as uid %d said %q, want hijacked", nobody, line)
	}
}

// sharedDirT makes base/shared with mode 0777 under a root dir nobody can
// traverse (0755) and returns the socket path inside it.
func sharedDirT(tb testing.TB) (dir, path string) {
	tb.Helper()
	base := shortTempDir(tb)
	if err := os.Chmod(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	dir = filepath.Join(base, "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		tb.Fatal(err)
	}
	return dir, filepath.Join(dir, "inventory.sock")
}

// TestSocketDirHijack (#12.1): in a 0777 socket dir another uid can remove
// inventory.sock and serve its own. ListenUnix refuses such a dir; with the
// opt-out it starts, and then a client dialing "inventory" by name refuses
// the impostor's socket (its server runs as another uid in an untrusted
// dir) instead of sending it requests.
func TestSocketDirHijack(t *testing.T) {
	dir, path := sharedDirT(t)
	ln, err := ListenUnix(ctxT(t), path, UnixSocketOptions{Logger: testLogger(t)})
	if err == nil {
		ln.Close()
		startImpostor(t, path)
		t.Fatalf("ListenUnix in a 0777 dir succeeded; uid %d then replaced %s with its own socket", nobody, path)
	}
	if !errors.Is(err, ErrUntrustedDir) || !strings.Contains(err.Error(), "chmod 0750 "+dir) {
		t.Fatalf("ListenUnix in a 0777 dir = %v, want ErrUntrustedDir naming the fix", err)
	}
	t.Logf("refused: %v", err)

	ln, err = ListenUnix(ctxT(t), path, UnixSocketOptions{AllowSharedDir: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("ListenUnix with AllowSharedDir = %v, want success", err)
	}
	defer ln.Close()
	startImpostor(t, path)
	cc := dialT(t, "inventory", WithSocketDir(dir))
	_, err = check(t, cc)
	if err == nil || !strings.Contains(err.Error(), "refusing "+path) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("RPC to the impostor's socket: err = %v, want a refusal naming %s and uid 65534", err, path)
	}
	t.Logf("client refused the impostor: %v", err)
}

// TestListenUnixDirTrust: which socket dirs ListenUnix accepts.
func TestListenUnixDirTrust(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(tb testing.TB, base string) string // returns the socket dir
		opts    UnixSocketOptions
		wantErr string // "" means accepted
	}{
		{"missing dir is created 0750", func(_ testing.TB, base string) string { return filepath.Join(base, "new") }, UnixSocketOptions{}, ""},
		{"0777", mkdirMode(0o777), UnixSocketOptions{}, "writable by others"},
		{"0777 with AllowSharedDir", mkdirMode(0o777), UnixSocketOptions{AllowSharedDir: true}, ""},
		{"1777", mkdirMode(0o777 | os.ModeSticky), UnixSocketOptions{}, "writable by others"},
		{"0770 without a socket group", mkdirMode(0o770), UnixSocketOptions{}, "writable by group 0"},
		{"0770 of the socket group", mkdirMode(0o770), UnixSocketOptions{Group: "0"}, ""},
		{"owned by nobody", func(tb testing.TB, base string) string {
			d := mkdirMode(0o750)(tb, base)
			if err := os.Chown(d, nobody, nobody); err != nil {
				tb.Fatal(err)
			}
			return d
		}, UnixSocketOptions{}, "owned by uid 65534"},
		{"symlink to a 0777 dir", func(tb testing.TB, base string) string {
			d := mkdirMode(0o777)(tb, base)
			link := filepath.Join(base, "link")
			if err := os.Symlink(d, link); err != nil {
				tb.Fatal(err)
			}
			return link
		}, UnixSocketOptions{}, "writable by others"},
		{"under a 0777 dir without the sticky bit", func(tb testing.TB, base string) string {
			d := mkdirMode(0o777)(tb, base)
			sub := filepath.Join(d, "sub")
			if err := os.Mkdir(sub, 0o750); err != nil {
				tb.Fatal(err)
			}
			return sub
		}, UnixSocketOptions{}, "without the sticky bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.prepare(t, shortTempDir(t))
			tt.opts.Logger = testLogger(t)
			ln, err := ListenUnix(ctxT(t), filepath.Join(dir, "svc.sock"), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrUntrustedDir) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ListenUnix = %v, want ErrUntrustedDir saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListenUnix = %v, want success", err)
			}
			defer ln.Close()
			if fi, err := os.Lstat(ln.Path()); err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != fs.ModeSocket {
				t.Errorf("socket: %v %v, want a 0660 socket", fi, err)
			}
			if fi, err := os.Stat(dir); err != nil || (tt.name == "missing dir is created 0750" && fi.Mode().Perm() != 0o750) {
				t.Errorf("dir: %v %v", fi, err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tmpDirPrefix) {
					t.Errorf("private bind dir %s left in the socket dir", e.Name())
				}
			}
		})
	}
}

// mkdirMode returns a prepare func making base/d with exactly mode.
func mkdirMode(mode os.FileMode) func(testing.TB, string) string {
	return func(tb testing.TB, base string) string {
		d := filepath.Join(base, "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			tb.Fatal(err)
		}
		return d
	}
}

// TestListenUnixModeNoFollow (#12.1): a racer in a shared dir swaps a
// symlink to a 0600 file in at the socket path, over and over, while
// ListenUnix runs; the file's mode never changes (the old chmod after bind
// followed the link: 0600 became 0660 in 1 of ~40 tries).
func TestListenUnixModeNoFollow(t *testing.T) {
	_, path := sharedDirT(t)
	target := filepath.Join(filepath.Dir(filepath.Dir(path)), "secret")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !isDone(stop) {
			_ = os.Remove(path)
			_ = os.Symlink(target, path)
		}
	}()
	const tries = 3000
	deadline := time.Now().Add(5 * time.Second)
	var n, listened, changed int
	for n = 0; n < tries && time.Now().Before(deadline); n++ {
		ln, err := ListenUnix(ctxT(t), path, UnixSocketOptions{AllowSharedDir: true, ProbeTimeout: 50 * time.Millisecond})
		if err == nil {
			listened++
			ln.Close()
		}
		if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
			changed++
			os.Chmod(target, 0o600)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d tries against a symlink-swapping racer: %d listened, target's mode changed %d times", n, listened, changed)
	if changed > 0 {
		t.Fatalf("the 0600 file behind the symlink changed mode %d times in %d tries, want 0", changed, n)
	}
}

// TestListenUnixRace (#12.2): two ListenUnix calls race on a stale socket,
// 500 times; exactly one wins each time, the loser gets ErrAddrInUse, and
// the socket left at the path is the winner's and live.
func TestListenUnixRace(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "svc.sock")
	const tries = 500
	var bothWon, bothFailed, notWinners int
	for i := range tries {
		stale, err := net.Listen("unix", path)
		if err != nil {
			t.Fatalf("try %d: stale socket: %v", i, err)
		}
		stale.(*net.UnixListener).SetUnlinkOnClose(false)
		stale.Close()
		var lns [2]*UnixListener
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				lns[j], errs[j] = ListenUnix(ctxT(t), path, UnixSocketOptions{})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for j := range 2 {
			if errs[j] == nil {
				won++
			} else if !errors.Is(errs[j], ErrAddrInUse) {
				t.Errorf("try %d: loser's error = %v, want ErrAddrInUse", i, errs[j])
			}
		}
		switch won {
		case 2:
			bothWon++
		case 0:
			bothFailed++
		}
		for _, ln := range lns {
			if ln == nil {
				continue
			}
			if fi, err := os.Lstat(path); err != nil || !os.SameFile(fi, ln.info) || ProbeUnix(ctxT(t), path) != nil {
				notWinners++ // a "winner" whose socket is not at the path (or not live)
			}
			ln.Close()
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("try %d: socket left after the winner's Close: %v", i, err)
		}
	}
	t.Logf("%d tries of 2 concurrent ListenUnix on a stale socket: both won %d, both failed %d, listeners not at the path %d",
		tries, bothWon, bothFailed, notWinners)
	if bothWon+bothFailed+notWinners > 0 {
		t.Fatalf("want exactly one live winner each try")
	}
}

// TestListenUnixLockNamesHolder: the loser's error names the holder's pid
// and the lock file.
func TestListenUnixLockNamesHolder(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "svc.sock")
	ln, err := ListenUnix(ctxT(t), path, UnixSocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = ListenUnix(ctxT(t), path, UnixSocketOptions{})
	var le *SocketLockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), lockPath(path)) {
		t.Fatalf("second ListenUnix = %v, want a *SocketLockedError naming pid %d and %s", err, os.Getpid(), lockPath(path))
	}
}
