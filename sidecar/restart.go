package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/podwire/podwire/sidecar/internal/handoff"
	"github.com/podwire/podwire/transport"
)

// restartTimeout bounds a restart: the new process must start, load its
// config, take the listeners and report ready within it, else it is
// killed and this process keeps serving.
const restartTimeout = 30 * time.Second

// successorReadyWait bounds how long a new process waits for live
// sessions to its upstreams (Ready) before it tells its predecessor to
// stop accepting anyway.
const successorReadyWait = 5 * time.Second

// filer is a listener whose descriptor can be passed to a successor
// (*net.TCPListener, *transport.UnixListener).
type filer interface{ File() (*os.File, error) }

func tcpKey(addr string) string  { return "tcp:" + addr }
func unixKey(path string) string { return "unix:" + path }

// withHandoff makes New adopt the listeners p passes instead of binding
// the same addresses again.
func withHandoff(p *handoff.Parent) Option {
	return optionFunc(func(o *options) { o.parent = p })
}

// listenTCP binds addr (the inbound port or the admin address), or adopts
// the predecessor's listener on the same configured address.
func (s *Sidecar) listenTCP(ctx context.Context, addr string) (net.Listener, error) {
	var ln net.Listener
	if f := s.inherited(tcpKey(addr)); f != nil {
		var err error
		ln, err = net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("adopt inherited listener %s: %w", addr, err)
		}
		s.log.Info("restart: adopted listener", "addr", addr)
	} else {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return nil, err
		}
	}
	if fl, ok := ln.(filer); ok {
		s.mu.Lock()
		s.passable[tcpKey(addr)] = fl
		s.mu.Unlock()
	}
	return ln, nil
}

// adoptUnix returns the predecessor's socket at path, or nil, nil. It
// keeps the file on Close until commitAdopted, so a successor that fails
// to start never removes a socket its predecessor still serves.
func (s *Sidecar) adoptUnix(path string) (*transport.UnixListener, error) {
	f := s.inherited(unixKey(path))
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	ln, err := transport.UnixListenerFromFile(f, path)
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	s.log.Info("restart: adopted socket", "path", path)
	return ln, nil
}

// inherited takes the descriptor the predecessor passed under key.
func (s *Sidecar) inherited(key string) *os.File {
	if s.parent == nil {
		return nil
	}
	return s.parent.Take(key)
}

// commitAdopted makes this process the owner of every socket file: from
// now on Close removes them again (unless it hands them on in turn).
func (s *Sidecar) commitAdopted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.unixLns {
		ln.SetUnlinkOnClose(true)
	}
}

// handoffFiles duplicates the descriptor of every listener a successor
// can inherit. The caller closes them.
func (s *Sidecar) handoffFiles() (map[string]*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	files := map[string]*os.File{}
	for k, l := range s.passable {
		f, err := l.File()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("duplicate listener %s: %w", k, err)
		}
		files[k] = f
	}
	return files, nil
}

// startSuccessor re-executes this binary (os.Executable, so a binary
// replaced on disk takes over) with the same arguments, hands it every
// listener and waits until it serves. On error the successor is gone and
// this Sidecar serves on, untouched.
func (s *Sidecar) startSuccessor(ctx context.Context) (*handoff.Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	files, err := s.handoffFiles()
	if err != nil {
		return nil, err
	}
	child, err := handoff.Start(exe, os.Args, os.Environ(), files)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("restart: new process started; waiting for it to serve", "pid", child.Pid(), "binary", exe, "listeners", len(files))
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	if err := child.WaitReady(ctx); err != nil {
		return nil, err
	}
	return child, nil
}

// stopForHandoff prepares the drain after a successful handoff: socket
// files stay (the successor serves them) and the admin endpoint stops at
// once, so probes and scrapes reach the successor.
func (s *Sidecar) stopForHandoff() {
	s.mu.Lock()
	for _, ln := range s.unixLns {
		ln.SetUnlinkOnClose(false)
	}
	adm := s.admin
	s.mu.Unlock()
	if adm != nil {
		adm.close()
	}
}

// signalReady tells the predecessor (if any) that this process serves,
// after waiting up to successorReadyWait for upstream sessions.
func (s *Sidecar) signalReady() {
	if s.parent == nil {
		return
	}
	deadline := time.Now().Add(successorReadyWait)
	for !s.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.parent.Ready(); err != nil {
		s.log.Warn("restart: could not tell the previous process we serve (it is gone?); serving anyway", "err", err)
	}
	s.commitAdopted()
	s.parent.Close()
	s.log.Info("restart: serving on inherited listeners", "pid", os.Getpid())
}

// serveRestart is POST /restart: the same restart as SIGHUP, for hosts
// where sending a signal is awkward (`curl -X POST --unix-socket …`). It
// answers 202 at once; the outcome is logged and counted in
// podwire_sidecar_handoffs_total. Only `podwire sidecar` (Run) acts on it.
func (s *Sidecar) serveRestart(w http.ResponseWriter, _ *http.Request) {
	select {
	case s.restartReq <- struct{}{}:
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "restart requested; see the log and podwire_sidecar_handoffs_total")
	default:
		http.Error(w, "a restart is already pending", http.StatusConflict)
	}
}
