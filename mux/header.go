package mux

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unicode/utf8"

	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/protobuf/proto"
)

// MaxHeaderSize is the largest podwire.wire.v1 message length a reader
// accepts: the 2-byte length prefix may not exceed it. Writers are stricter
// and keep prefix plus message within MaxHeaderSize, as wire.proto asks.
const MaxHeaderSize = 4096

// HeaderVersion is the podwire.wire.v1 StreamHeader version this package
// writes and accepts.
const HeaderVersion = 1

// Limits from wire.proto.
const (
	maxMetadata     = 16
	maxMetaKeyLen   = 64
	maxMetaValueLen = 256
	maxReplyMessage = 512
)

// WriteHeader validates h and writes it framed (2-byte big-endian length,
// then the protobuf) in a single Write. Safe for concurrent use only if w is.
func WriteHeader(w io.Writer, h *wirev1.StreamHeader) error {
	if err := ValidateHeader(h); err != nil {
		return err
	}
	return writeFrame(w, h, "header")
}

// ReadHeader reads one framed StreamHeader and validates it. It reads
// exactly the frame and nothing after it, so the payload stays in r. A
// length prefix over MaxHeaderSize fails with ErrHeaderTooLarge before the
// body is read; a bad field fails with a *HeaderError whose Code is the reply
// an acceptor should Refuse with.
func ReadHeader(r io.Reader) (*wirev1.StreamHeader, error) {
	h := new(wirev1.StreamHeader)
	if err := readFrame(r, h, "header"); err != nil {
		return nil, err
	}
	if err := ValidateHeader(h); err != nil {
		return nil, err
	}
	return h, nil
}

// WriteReply validates r (message at most 512 bytes of UTF-8) and writes it
// framed in a single Write.
func WriteReply(w io.Writer, r *wirev1.StreamReply) error {
	if err := validateReply(r); err != nil {
		return err
	}
	return writeFrame(w, r, "reply")
}

// ReadReply reads one framed StreamReply and validates it. Like ReadHeader
// it never reads past the frame.
func ReadReply(r io.Reader) (*wirev1.StreamReply, error) {
	rep := new(wirev1.StreamReply)
	if err := readFrame(r, rep, "reply"); err != nil {
		return nil, err
	}
	if err := validateReply(rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// ValidateHeader checks h against the limits of wire.proto: version 1, a
// service name that passes ValidateServiceName, a known payload, and at most 16 metadata entries
// with keys of 1 to 64 bytes of [a-z0-9-_.] and values of at most 256 bytes.
func ValidateHeader(h *wirev1.StreamHeader) error {
	if h == nil {
		return &HeaderError{Field: "header", Reason: "missing", Code: codeInvalidArgument}
	}
	if v := h.GetVersion(); v != HeaderVersion {
		return &HeaderError{Field: "version", Code: codeFailedPrecondition,
			Reason: fmt.Sprintf("got %d, this side speaks %d; upgrade the older side", v, HeaderVersion)}
	}
	if err := validateService(h.GetService()); err != nil {
		return err
	}
	if _, ok := wirev1.Payload_name[int32(h.GetPayload())]; !ok {
		return &HeaderError{Field: "payload", Code: codeInvalidArgument,
			Reason: fmt.Sprintf("unknown payload %d; use PAYLOAD_GRPC or PAYLOAD_RAW", h.GetPayload())}
	}
	return validateMetadata(h.GetMetadata())
}

func validateService(s string) error {
	if err := ValidateServiceName(s); err != nil {
		return &HeaderError{Field: "service", Code: codeInvalidArgument, Reason: err.Error(), err: err}
	}
	return nil
}

func validateMetadata(md map[string]string) error {
	if len(md) > maxMetadata {
		return &HeaderError{Field: "metadata", Code: codeInvalidArgument,
			Reason: fmt.Sprintf("%d entries, at most %d allowed", len(md), maxMetadata)}
	}
	for k, v := range md {
		if len(k) == 0 || len(k) > maxMetaKeyLen || !metaKeyChars(k) {
			return &HeaderError{Field: "metadata", Code: codeInvalidArgument,
				Reason: fmt.Sprintf("key %q must be 1 to 64 bytes of [a-z0-9-_.]", truncate(k, 80))}
		}
		if len(v) > maxMetaValueLen {
			return &HeaderError{Field: "metadata", Code: codeInvalidArgument,
				Reason: fmt.Sprintf("value of %q is %d bytes, at most %d allowed", k, len(v), maxMetaValueLen)}
		}
	}
	return nil
}

func metaKeyChars(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validateReply(r *wirev1.StreamReply) error {
	if r == nil {
		return &HeaderError{Field: "reply", Reason: "missing", Code: codeInvalidArgument}
	}
	if len(r.GetMessage()) > maxReplyMessage {
		return &HeaderError{Field: "message", Code: codeInvalidArgument,
			Reason: fmt.Sprintf("%d bytes, at most %d allowed", len(r.GetMessage()), maxReplyMessage)}
	}
	return nil
}

func writeFrame(w io.Writer, m proto.Message, what string) error {
	size := proto.Size(m)
	if 2+size > MaxHeaderSize {
		return &HeaderError{Field: what, Code: codeInvalidArgument,
			Reason: fmt.Sprintf("encodes to %d bytes with framing, at most %d allowed", 2+size, MaxHeaderSize)}
	}
	buf := make([]byte, 2, 2+size)
	binary.BigEndian.PutUint16(buf, uint16(size))
	buf, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(buf, m)
	if err != nil {
		return fmt.Errorf("podwire/mux: encode stream %s: %w", what, err)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("podwire/mux: write stream %s: %w", what, err)
	}
	return nil
}

func readFrame(r io.Reader, m proto.Message, what string) error {
	var prefix [2]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return readErr(what, err)
	}
	n := int(binary.BigEndian.Uint16(prefix[:]))
	if n > MaxHeaderSize {
		return fmt.Errorf("%w: stream %s length prefix %d", ErrHeaderTooLarge, what, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return readErr(what, err)
	}
	if err := proto.Unmarshal(buf, m); err != nil {
		return &HeaderError{Field: what, Code: codeInvalidArgument,
			Reason: fmt.Sprintf("not a podwire.wire.v1 message (%v); check that the peer speaks podwire-mux/1", err)}
	}
	return nil
}

func readErr(what string, err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: read stream %s: %w", ErrHeaderTimeout, what, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("podwire/mux: read stream %s: peer closed the stream before sending it: %w", what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("podwire/mux: read stream %s: %w", what, err)
}

// ReadStreamHeader reads the header of a freshly accepted stream under a
// read deadline of timeout (use Config.HeaderTimeout; 0 means its
// default), then clears the deadline. On a *HeaderError, answer with
// Refuse(c, herr.Code, herr.Error()).
func ReadStreamHeader(c net.Conn, timeout time.Duration) (*wirev1.StreamHeader, error) {
	if timeout <= 0 {
		timeout = DefaultConfig().HeaderTimeout
	}
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("podwire/mux: set header deadline: %w", err)
	}
	h, err := ReadHeader(c)
	if err != nil {
		return nil, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("podwire/mux: clear header deadline: %w", err)
	}
	return h, nil
}

// Accept answers a stream's header with code 0 (OK). After it the stream
// carries the payload the header named.
func Accept(c net.Conn) error {
	return WriteReply(c, &wirev1.StreamReply{Code: codeOK})
}

// Refuse answers a stream's header with a non-zero code and message and
// closes c. A message over 512 bytes is truncated. Code 0 is an error (use
// Accept); c is closed either way. A refused inbound stream of a Session
// counts against the session's Config.MaxRefusalsPerSecond.
func Refuse(c net.Conn, code uint32, msg string) error {
	defer c.Close()
	// c is an accepted stream (or a wrapper that exposes its session).
	if sc, ok := c.(interface{ Session() *Session }); ok && sc.Session() != nil {
		defer sc.Session().noteRefusal()
	}
	if code == codeOK {
		return fmt.Errorf("%w: Refuse with code 0; use Accept to accept a stream", ErrInvalidHeader)
	}
	return WriteReply(c, &wirev1.StreamReply{Code: code, Message: truncate(msg, maxReplyMessage)})
}

// truncate shortens s to at most n bytes without splitting a UTF-8 rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// DialService opens a stream, sends h and waits for the reply, all under
// ctx (and Config.HeaderTimeout for the reply when ctx has no earlier
// deadline). A refusal is a *RefusedError; the returned stream carries the
// payload h named.
func (s *Session) DialService(ctx context.Context, h *wirev1.StreamHeader) (net.Conn, error) {
	return s.dialService(ctx, h, false)
}

func (s *Session) dialService(ctx context.Context, h *wirev1.StreamHeader, reserved bool) (net.Conn, error) {
	if err := ValidateHeader(h); err != nil {
		if reserved {
			s.unreserve()
		}
		return nil, err
	}
	c, err := s.open(ctx, reserved)
	if err != nil {
		return nil, err
	}
	if err := handshake(ctx, c, h, s.cfg.HeaderTimeout); err != nil {
		c.Close()
		var re *RefusedError
		if errors.As(err, &re) {
			s.metrics.StreamRefused(DirOutbound, codeName(re.Code))
		}
		return nil, err
	}
	return c, nil
}

// handshake writes h and reads the reply on c under ctx and timeout.
func handshake(ctx context.Context, c net.Conn, h *wirev1.StreamHeader, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	fromCtx := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, fromCtx = d, true
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("podwire/mux: set handshake deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err := WriteHeader(c, h)
	var rep *wirev1.StreamReply
	if err == nil {
		rep, err = ReadReply(c)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("podwire/mux: open stream to %q: %w", h.GetService(), ctxErr)
		}
		if fromCtx && errors.Is(err, os.ErrDeadlineExceeded) {
			// The conn deadline is ctx's and fired a hair before ctx did.
			return fmt.Errorf("podwire/mux: open stream to %q: %w", h.GetService(), context.DeadlineExceeded)
		}
		return err
	}
	if !stop() {
		return fmt.Errorf("podwire/mux: open stream to %q: %w", h.GetService(), ctx.Err())
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("podwire/mux: clear handshake deadline: %w", err)
	}
	if rep.GetCode() != codeOK {
		return &RefusedError{Code: rep.GetCode(), Message: rep.GetMessage()}
	}
	return nil
}
