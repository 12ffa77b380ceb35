package sidecar

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/podwire/podwire/sidecar/internal/handoff"
)

// Run starts a Sidecar and serves until ctx is done or SIGTERM/SIGINT
// arrives, then drains for up to cfg.DrainTimeout (readiness false, stop
// accepting, GoAway to peers, HTTP/2 GOAWAY to apps' clients, wait for
// streams) and returns nil. A second signal during the drain closes
// everything at once. This is what `podwire sidecar` runs.
//
// SIGHUP restarts without closing a listener: Run re-executes its own
// binary with the same arguments (the new process reads its config
// afresh), hands it every listening socket, and once the new process
// serves, this one stops accepting and drains as above. If the new
// process fails to start, this one logs why and serves on. When this
// process was itself started that way, Run adopts the inherited sockets
// instead of binding them.
func Run(ctx context.Context, cfg Config, opts ...Option) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	parent, err := handoff.FromEnv()
	if err != nil {
		return err
	}
	if parent != nil {
		defer parent.Close()
		opts = append(opts, withHandoff(parent))
	}
	s, err := New(cfg, opts...)
	if err == nil {
		procs, src := cfg.applyGOMAXPROCS(os.LookupEnv)
		s.log.Info("scheduler", "gomaxprocs", procs, "source", src)
		err = s.Start(ctx)
	}
	if err != nil {
		if parent != nil {
			parent.Fail(err)
		}
		return err
	}
	s.signalReady()
	// The CLI's context is also cancelled by the first signal, which then
	// arrives on sigs too; so the drain is cut only by the second signal
	// counted here, whichever of the two woke us first.
	signals := 0
	var child int // pid of the successor after a restart
	for stop := false; !stop; {
		select {
		case <-ctx.Done():
			stop = true
		case <-sigs:
			signals++
			stop = true
		case <-hup:
			child = s.restart(ctx)
			stop = child != 0
		case <-s.restartReq:
			child = s.restart(ctx)
			stop = child != 0
		case <-s.Done():
			return errors.New("podwire/sidecar: stopped unexpectedly")
		}
	}
	err = drain(s, cfg.DrainTimeout, sigs, signals)
	if child != 0 && os.Getpid() == 1 {
		return supervise(s.log, child)
	}
	return err
}

// restart runs a SIGHUP (or POST /restart): it returns the pid of the
// successor that now serves (s must drain), or 0 when s serves on.
func (s *Sidecar) restart(ctx context.Context) int {
	s.log.Info("SIGHUP: restarting; this process serves until the new one is ready")
	start := time.Now()
	child, err := s.startSuccessor(ctx)
	if err != nil {
		s.rm.handoffs.WithLabelValues("failed").Inc()
		s.log.Error("restart failed; still serving with the old process and config", "err", err)
		return 0
	}
	s.rm.handoffs.WithLabelValues("done").Inc()
	s.log.Info("restart: new process serves; this one stops accepting and drains", "pid", child.Pid(), "took", time.Since(start).Round(time.Millisecond).String())
	child.Release()
	s.stopForHandoff()
	return child.Pid()
}

// drain shuts s down within timeout; a second signal on sigs (counting
// the ones already received) closes it at once.
func drain(s *Sidecar, timeout time.Duration, sigs <-chan os.Signal, signals int) error {
	s.log.Info("stop requested: draining", "drain_timeout", timeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- s.Shutdown(dctx) }()
	for {
		select {
		case err := <-drained:
			if err != nil {
				s.log.Warn("drain incomplete", "err", err)
			} else {
				s.log.Info("drained")
			}
			return nil
		case <-sigs:
			if signals++; signals < 2 {
				continue
			}
			s.log.Warn("second signal: closing now")
			cancel()
			s.Close()
			<-drained
			return nil
		}
	}
}
