// Command worker is the franz-go worker of kafka-conformance: one consumer in its own OS
// process, driven over JSON lines (docs/worker-protocol.md) with the semantics of the
// reference Python worker (conformance/worker.py).
//
//	worker --id m1
//
// Commands arrive one JSON object per line on stdin; replies and events leave one JSON object
// per line on stdout; logs go to stderr only. End of stdin exits at once (no close).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const adapterName = "franz-go"

// -- the host's monotonic clock (CLOCK_MONOTONIC, shared with the harness) --------------------

var clockBase, clockStart = monotonicNow(), time.Now()

func monotonicNow() float64 {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func now() float64 { return clockBase + time.Since(clockStart).Seconds() }

// clientVersion is the franz-go release linked into this binary.
func clientVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/twmb/franz-go" {
			if dep.Replace != nil && dep.Replace.Version != "" {
				return strings.TrimPrefix(dep.Replace.Version, "v")
			}
			return strings.TrimPrefix(dep.Version, "v")
		}
	}
	return ""
}

// -- errors -----------------------------------------------------------------------------------

// CErr is an error with a protocol code (malformed-command, usage-error, commit-failed, ...).
type CErr struct {
	Code      string
	Msg       string
	Retriable bool
	Fatal     bool
}

func (e *CErr) Error() string { return e.Msg }

func cerr(code, format string, args ...any) *CErr {
	return &CErr{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// -- output -----------------------------------------------------------------------------------

type output struct {
	mu     sync.Mutex
	w      *os.File
	member string
}

func (o *output) write(obj map[string]any) {
	line, err := json.Marshal(obj)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot encode %v: %v\n", obj, err)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.Write(append(line, '\n'))
}

func (o *output) emit(kind string, data map[string]any) {
	obj := map[string]any{"type": kind, "ts": now(), "source": o.member}
	for k, v := range data {
		obj[k] = v
	}
	o.write(obj)
}

func (o *output) reply(msg map[string]any, data map[string]any) {
	obj := map[string]any{"type": fmt.Sprint(msg["type"]) + "_ok", "in_reply_to": msg["msg_id"],
		"ts": now(), "source": o.member}
	for k, v := range data {
		obj[k] = v
	}
	o.write(obj)
}

func (o *output) replyError(msg map[string]any, e *CErr) {
	var id any
	if msg != nil {
		id = msg["msg_id"]
	}
	o.write(map[string]any{"type": "error", "in_reply_to": id, "ts": now(), "source": o.member,
		"code": e.Code, "message": e.Msg, "fatal": e.Fatal, "retriable": e.Retriable})
}

// -- main loop --------------------------------------------------------------------------------

type command struct {
	msg map[string]any
	bad *CErr // not JSON / not an object
	eof bool  // end of stdin: exit once the commands before it ran
}

func main() {
	id := flag.String("id", "m1", "member id, the 'source' of every event")
	flag.Parse()
	// Nothing but protocol lines may reach the real stdout: keep a private copy of it and
	// point file descriptor 1 at stderr.
	fd, err := syscall.Dup(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot duplicate stdout:", err)
		os.Exit(3)
	}
	_ = syscall.Dup3(2, 1, 0)
	out := &output{w: os.NewFile(uintptr(fd), "protocol"), member: *id}
	w := newWorker(out)
	commands := make(chan command, 64)
	go readCommands(os.Stdin, commands, out)
	w.serve(commands)
}

func readCommands(in *os.File, commands chan<- command, out *output) {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var raw any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			commands <- command{bad: cerr("malformed-command", "not JSON: %v", err)}
			continue
		}
		obj, ok := raw.(map[string]any)
		if !ok {
			commands <- command{bad: cerr("malformed-command",
				"a command must be a JSON object with a 'type'")}
			continue
		}
		commands <- command{msg: obj}
	}
	// End of stdin: the worker exits after the commands already read, without closing.
	commands <- command{eof: true}
}
