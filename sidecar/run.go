package sidecar

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// Run starts a Sidecar and serves until ctx is done or SIGTERM/SIGINT
// arrives, then drains for up to cfg.DrainTimeout (readiness false, stop
// accepting, GoAway to peers, wait for streams) and returns nil. A second
// signal during the drain closes everything at once. This is what
// `podwire sidecar` runs.
func Run(ctx context.Context, cfg Config, opts ...Option) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	s, err := New(cfg, opts...)
	if err != nil {
		return err
	}
	procs, src := cfg.applyGOMAXPROCS(os.LookupEnv)
	s.log.Info("scheduler", "gomaxprocs", procs, "source", src)
	if err := s.Start(ctx); err != nil {
		return err
	}
	// The CLI's context is also cancelled by the first signal, which then
	// arrives on sigs too; so the drain is cut only by the second signal
	// counted here, whichever of the two woke us first.
	signals := 0
	select {
	case <-ctx.Done():
	case <-sigs:
		signals++
	case <-s.Done():
		return errors.New("podwire/sidecar: stopped unexpectedly")
	}
	s.log.Info("stop requested: draining", "drain_timeout", cfg.DrainTimeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
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
