package handoff

import (
	"errors"
)

// EnvFD is the environment variable that tells a successor which file
// descriptor is its end of the handoff socket.
const EnvFD = "PODWIRE_HANDOFF_FD"

// maxMessage caps the key list a successor accepts.
const maxMessage = 1 << 20

// ErrUnsupported means this platform cannot pass sockets between
// processes; restart by stopping and starting instead.
var ErrUnsupported = errors.New("podwire/handoff: passing listeners to a new process needs a Unix system")

// message is what the parent sends along with the descriptors.
type message struct {
	Keys []string `json:"keys"` // one per descriptor, in order
}
