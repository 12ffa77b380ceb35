//go:build !(darwin || freebsd || netbsd || openbsd || dragonfly)

package transport

// sunPathLimit is the size of sockaddr_un.sun_path, including the NUL
// (108 on Linux and Windows).
const sunPathLimit = 108
