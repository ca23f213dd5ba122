package main

import (
	"math"
	"sync"
	"time"
)

// The worker's watch over its calls into the client, as conformance/calls.py's CallWatch: a
// call still outstanding past its bound is reported once as call_outstanding (call, id, since:
// the monotonic time it began, seconds outstanding, bound) by a goroutine ticking every 0.5 s;
// one that returns after all (or panics) is reported as call_returned (call, id, seconds).

const (
	apiTimeout   = 60.0 // seconds a blocking client call may take: the clients' API timeout
	closeTimeout = 30.0 // seconds close() may take (the Java client's default close timeout)
	callMargin   = 5.0  // slack beyond a documented bound before a call counts as never returning
	watchTick    = 500 * time.Millisecond
)

// callBound is conformance.calls.bound: a poll's timeout + 65 s (its listener may commit),
// close 35 s, any other call 65 s.
func callBound(call string, timeout float64) float64 {
	switch call {
	case "poll":
		return math.Max(0, timeout) + apiTimeout + callMargin
	case "close":
		return closeTimeout + callMargin
	}
	return apiTimeout + callMargin
}

type watchedCall struct {
	name     string
	started  float64 // now()
	bound    float64
	reported bool
}

// CallWatch tracks the outstanding client calls of any goroutine.
type CallWatch struct {
	emit  func(kind string, data map[string]any)
	bound func(call string, timeout float64) float64
	mu    sync.Mutex
	ids   int64
	open  map[int64]*watchedCall
}

// newCallWatch starts the watch: emit is the worker's event writer, bound a call's bound in
// seconds (callBound), tick how often outstanding calls are looked at (watchTick).
func newCallWatch(emit func(string, map[string]any), tick time.Duration,
	bound func(string, float64) float64) *CallWatch {
	cw := &CallWatch{emit: emit, bound: bound, open: map[int64]*watchedCall{}}
	go cw.watch(tick)
	return cw
}

// run makes one client call under the watch (timeout: a poll's, in seconds).
func (cw *CallWatch) run(name string, timeout float64, body func()) {
	cw.mu.Lock()
	cw.ids++
	id := cw.ids
	c := &watchedCall{name: name, started: now(), bound: cw.bound(name, timeout)}
	cw.open[id] = c
	cw.mu.Unlock()
	defer func() {
		cw.mu.Lock()
		delete(cw.open, id)
		reported := c.reported
		cw.mu.Unlock()
		if reported {
			cw.emit("call_returned", map[string]any{"call": name, "id": id,
				"seconds": round3(now() - c.started)})
		}
	}()
	body()
}

func (cw *CallWatch) watch(tick time.Duration) {
	for range time.Tick(tick) {
		t := now()
		// emitted under mu: a call that returns meanwhile reports call_returned after this
		cw.mu.Lock()
		for id, c := range cw.open {
			if !c.reported && t-c.started > c.bound {
				c.reported = true
				cw.emit("call_outstanding", map[string]any{"call": c.name, "id": id,
					"since": c.started, "seconds": round3(t - c.started), "bound": c.bound})
			}
		}
		cw.mu.Unlock()
	}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
