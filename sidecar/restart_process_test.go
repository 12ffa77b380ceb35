//go:build linux

package sidecar

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// procPair is two `podwire sidecar` processes on loopback: the test's
// callers → A's socket → A → mux/TLS → B → the test's gRPC app on B's
// socket.
type procPair struct {
	bin, log         string
	dirA, dirB       string
	adminA, adminB   string
	cmdA, cmdB       *exec.Cmd
	pidA, pidB       int // the process serving now
	exitedA, exitedB chan struct{}
}

// buildPodwire builds cmd/podwire into dir.
func buildPodwire(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "podwire")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/podwire").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ../cmd/podwire: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startProcPair starts B then A with drain_timeout 20s and waits until
// both are ready.
func startProcPair(t *testing.T, aAsPID1 bool) *procPair {
	t.Helper()
	work := shortDir(t)
	pki := newTestPKI(t, "inventory", "purchase")
	p := &procPair{bin: buildPodwire(t, work), log: filepath.Join(work, "sidecars.log"), dirA: shortDir(t), dirB: shortDir(t),
		adminA: freeAddr(t), adminB: freeAddr(t)}
	startGRPCApp(t, filepath.Join(p.dirB, "inventory.sock"))
	listenB := freeAddr(t)
	tb, ta := pki.files("inventory"), pki.files("purchase")
	writeFile(t, filepath.Join(work, "b.yaml"), fmt.Sprintf(`socket_dir: %s
listen: %s
admin: %s
drain_timeout: 20s
tls: {cert: %s, key: %s, ca: %s}
services: [{name: inventory, allow: ["spiffe://podwire.local/purchase"]}]
`, p.dirB, listenB, p.adminB, tb.Cert, tb.Key, tb.CA))
	writeFile(t, filepath.Join(work, "a.yaml"), fmt.Sprintf(`socket_dir: %s
admin: %s
drain_timeout: 20s
tls: {cert: %s, key: %s, ca: %s}
upstreams: [{name: inventory, address: %q, server_name: inventory}]
`, p.dirA, p.adminA, ta.Cert, ta.Key, ta.CA, listenB))
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err) // successors must stay our children to be reaped
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	start := func(cfg string, pid1 bool) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(p.bin, "sidecar", "--config", filepath.Join(work, cfg), "--log-format", "text")
		if pid1 { // as in a container: PID 1 of its own pid namespace
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		}
		cmd.Stdout, cmd.Stderr = logf, logf // files, not pipes: successors inherit them
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		return cmd, exited
	}
	p.cmdB, p.exitedB = start("b.yaml", false)
	p.pidB = p.cmdB.Process.Pid
	waitHTTP(t, p.adminB, "/readyz")
	p.cmdA, p.exitedA = start("a.yaml", aAsPID1)
	p.pidA = p.cmdA.Process.Pid
	waitHTTP(t, p.adminA, "/readyz")
	t.Cleanup(func() {
		for _, pid := range []int{p.pidA, p.pidB} {
			syscall.Kill(pid, syscall.SIGKILL)
			reap(pid, 5*time.Second)
		}
		<-p.exitedA
		<-p.exitedB
		if t.Failed() {
			out, _ := os.ReadFile(p.log)
			t.Logf("sidecar logs:\n%s", out)
		}
	})
	return p
}

// waitHTTP polls admin until path answers 200.
func waitHTTP(t *testing.T, admin, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s not 200 after 30s: %v", admin, path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reap waits up to d for pid (our child or an orphan we are subreaper
// of) to exit and reaps it; false if it is still running.
func reap(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || err == unix.ECHILD {
			return syscall.Kill(pid, 0) != nil
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var servingPid = regexp.MustCompile(`serving on inherited listeners"? pid=(\d+)`)

// hup sends SIGHUP to the serving process of one side, waits until the
// old process exited and a new one serves, and returns the new pid.
func (p *procPair) hup(t *testing.T, old int, exited <-chan struct{}, admin string) int {
	t.Helper()
	before, _ := os.ReadFile(p.log)
	known := len(servingPid.FindAllSubmatch(before, -1))
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := os.ReadFile(p.log)
		if m := servingPid.FindAllSubmatch(out, -1); len(m) > known {
			pid, _ := strconv.Atoi(string(m[len(m)-1][1]))
			if exited != nil {
				select {
				case <-exited:
				case <-time.After(25 * time.Second):
					syscall.Kill(old, syscall.SIGQUIT) // its goroutines go to the log
					time.Sleep(time.Second)
					t.Fatalf("old process %d still running 25s after the handoff", old)
				}
			} else if !reap(old, 25*time.Second) {
				t.Fatalf("old process %d still running 25s after the handoff", old)
			}
			waitHTTP(t, admin, "/readyz")
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new process serves 30s after SIGHUP to %d", old)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callRecord is one call of the load.
type callRecord struct {
	start time.Time
	took  time.Duration
	err   error
}

// runLoad makes n connections to A's socket and calls on each every
// interval (every tenth call sleeps 50ms in the app, so calls are in
// flight at any moment) until stop is closed.
func runLoad(t *testing.T, dirA string, n int, interval time.Duration, stop <-chan struct{}) func() []callRecord {
	var mu sync.Mutex
	var recs []callRecord
	var wg sync.WaitGroup
	for i := range n {
		cc, err := grpc.NewClient("unix://"+filepath.Join(dirA, "inventory.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer cc.Close()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for k := 0; ; k++ {
				ms := int64(0)
				if (k+i)%10 == 0 {
					ms = 50
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				st := time.Now()
				err := callSleep(ctx, cc, ms)
				cancel()
				mu.Lock()
				recs = append(recs, callRecord{start: st, took: time.Since(st) - time.Duration(ms)*time.Millisecond, err: err})
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
	}
	return func() []callRecord { wg.Wait(); return recs }
}

// quantile returns the q-quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// TestProcessRestart runs two `podwire sidecar` processes (built from
// cmd/podwire) with drain_timeout 20s and, in order: a SIGHUP with a
// broken config leaves the old process serving; 50 long-lived gRPC
// connections call at a steady rate while A, then B, restart on SIGHUP
// with no failed call and A's socket keeping its inode; SIGTERM to A with
// idle-but-open connections and one call in flight exits in under 2s and
// the call completes.
func TestProcessRestart(t *testing.T) {
	p := startProcPair(t, false)
	t.Run("bad config keeps the old process", func(t *testing.T) { p.badConfig(t) })
	t.Run("hitless SIGHUP of A then B", func(t *testing.T) { p.hitless(t) })
	t.Run("SIGTERM with idle connections", func(t *testing.T) { p.sigterm(t) })
}

// badConfig: SIGHUP while A's config is broken; A serves on.
func (p *procPair) badConfig(t *testing.T) {
	cfg := filepath.Join(filepath.Dir(p.log), "a.yaml")
	good, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, "socket_dir: relative/not/allowed\n")
	defer writeFile(t, cfg, string(good))
	if err := syscall.Kill(p.pidA, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := os.ReadFile(p.log)
		if regexp.MustCompile(`restart failed; still serving`).Match(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no 'restart failed' log line 30s after SIGHUP with a broken config")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cc, err := grpc.NewClient("unix://"+filepath.Join(p.dirA, "inventory.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := callSleep(ctx, cc, 0); err != nil {
		t.Fatalf("call after a failed restart: %v", err)
	}
	waitHTTP(t, p.adminA, "/readyz")
	metrics := httpGet(t, p.adminA, "/metrics")
	if !regexp.MustCompile(`podwire_sidecar_handoffs_total\{result="failed"\} 1\b`).MatchString(metrics) {
		t.Errorf("handoffs failed metric not 1:\n%s", regexp.MustCompile(`(?m)^podwire_sidecar_handoffs.*$`).FindAllString(metrics, -1))
	}
	select {
	case <-p.exitedA:
		t.Fatal("A exited after a failed restart")
	default:
	}
}

// httpGet returns the body of admin's path.
func httpGet(t *testing.T, admin, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	io.Copy(&b, resp.Body)
	return b.String()
}

// hitless: SIGHUP A, then B, under load; no call fails.
func (p *procPair) hitless(t *testing.T) {
	sock := filepath.Join(p.dirA, "inventory.sock")
	inodeBefore, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wait := runLoad(t, p.dirA, 50, 50*time.Millisecond, stop)
	time.Sleep(time.Second)
	var windows [][2]time.Time
	w0 := time.Now()
	p.pidA = p.hup(t, p.pidA, p.exitedA, p.adminA)
	windows = append(windows, [2]time.Time{w0, time.Now()})
	time.Sleep(time.Second)
	w1 := time.Now()
	p.pidB = p.hup(t, p.pidB, p.exitedB, p.adminB)
	windows = append(windows, [2]time.Time{w1, time.Now()})
	time.Sleep(time.Second)
	close(stop)
	recs := wait()
	var failed []error
	var all, during []time.Duration
	for _, r := range recs {
		if r.err != nil {
			failed = append(failed, r.err)
			continue
		}
		all = append(all, r.took)
		for _, w := range windows {
			if !r.start.Before(w[0]) && r.start.Before(w[1]) {
				during = append(during, r.took)
			}
		}
	}
	t.Logf("%d calls, %d failed; switch A took %v, switch B took %v; overhead p50 %v p99 %v overall, p50 %v p99 %v max %v during the switches (%d calls)",
		len(recs), len(failed), windows[0][1].Sub(windows[0][0]).Round(time.Millisecond), windows[1][1].Sub(windows[1][0]).Round(time.Millisecond),
		quantile(all, 0.5), quantile(all, 0.99), quantile(during, 0.5), quantile(during, 0.99), quantile(during, 1), len(during))
	if len(failed) > 0 {
		t.Errorf("%d calls failed during the restarts, first: %v", len(failed), failed[0])
	}
	inodeAfter, err := os.Stat(sock)
	if err != nil || !os.SameFile(inodeBefore, inodeAfter) {
		t.Errorf("A's socket after two restarts: %v, same inode %v; want the same file", err, err == nil && os.SameFile(inodeBefore, inodeAfter))
	}
}

// sigterm: SIGTERM to A with 50 idle-but-open connections and one call in
// flight: A exits in under 2s (drain_timeout is 20s), the call completes.
func (p *procPair) sigterm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var ccs []*grpc.ClientConn
	for range 50 {
		cc, err := grpc.NewClient("unix://"+filepath.Join(p.dirA, "inventory.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		if err := callSleep(ctx, cc, 0); err != nil {
			t.Fatal(err)
		}
		ccs = append(ccs, cc)
	}
	callErr := make(chan error, 1)
	go func() { callErr <- callSleep(ctx, ccs[0], 500) }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := syscall.Kill(p.pidA, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !reap(p.pidA, 15*time.Second) {
		t.Fatalf("A (pid %d) still running 15s after SIGTERM", p.pidA)
	}
	took := time.Since(start)
	if err := <-callErr; err != nil {
		t.Errorf("call in flight at SIGTERM: %v", err)
	}
	t.Logf("SIGTERM with 50 idle connections and a call in flight: A exited after %v (drain_timeout 20s)", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("A took %v to exit after SIGTERM, want < 2s", took)
	}
}

// TestProcessRestartAsPID1: sidecar A runs as PID 1 of its own pid
// namespace, as in a container. After a SIGHUP the old process drains and
// stays as init (its exit would kill the successor); a second SIGHUP to
// PID 1 restarts the successor in turn; calls keep working throughout;
// SIGTERM to PID 1 stops every generation and PID 1 exits 0.
func TestProcessRestartAsPID1(t *testing.T) {
	p := startProcPair(t, true)
	call := func(step string) {
		t.Helper()
		cc, err := grpc.NewClient("unix://"+filepath.Join(p.dirA, "inventory.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := callSleep(ctx, cc, 0); err != nil {
			t.Fatalf("%s: call through A: %v", step, err)
		}
	}
	waitLog := func(re *regexp.Regexp, n int, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, _ := os.ReadFile(p.log)
			if len(re.FindAll(out, -1)) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the log after 30s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	call("before")
	for gen := 1; gen <= 2; gen++ {
		if err := syscall.Kill(p.pidA, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(servingPid, gen, fmt.Sprintf("successor #%d serving", gen))
		waitLog(regexp.MustCompile(`PID 1: supervising`), 1, "PID 1 supervising")
		waitHTTP(t, p.adminA, "/readyz")
		call(fmt.Sprintf("after restart %d", gen))
		select {
		case <-p.exitedA:
			t.Fatalf("PID 1 exited after restart %d; its successor died with it", gen)
		default:
		}
	}
	if err := syscall.Kill(p.pidA, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exitedA:
	case <-time.After(15 * time.Second):
		t.Fatal("PID 1 still running 15s after SIGTERM")
	}
	if err := p.cmdA.ProcessState; err == nil || !err.Success() {
		t.Errorf("PID 1 exit: %v, want success", p.cmdA.ProcessState)
	}
}
