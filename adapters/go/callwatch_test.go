package main

import (
	"sync"
	"testing"
	"time"
)

type event struct {
	kind string
	data map[string]any
}

// recorder is an event writer that keeps what the watch emits.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) emit(kind string, data map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{kind, data})
}

func (r *recorder) got() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

const tick = 10 * time.Millisecond

func watchWith(bound float64) (*CallWatch, *recorder) {
	r := &recorder{}
	return newCallWatch(r.emit, tick, func(string, float64) float64 { return bound }), r
}

func TestBoundsAreConformanceCalls(t *testing.T) {
	for _, c := range []struct {
		call    string
		timeout float64
		want    float64
	}{{"poll", 2.5, 67.5}, {"poll", 0, 65}, {"close", 0, 35}, {"commit", 0, 65},
		{"seek", 9, 65}} {
		if got := callBound(c.call, c.timeout); got != c.want {
			t.Errorf("callBound(%q, %v) = %v, want %v", c.call, c.timeout, got, c.want)
		}
	}
}

func TestCallPastItsBoundIsReportedOnceThenReturns(t *testing.T) {
	cw, r := watchWith(0.05)
	cw.run("seek", 0, func() {}) // id 1, returns in time
	before := now()
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		cw.run("poll", 1, func() { <-release })
	}()
	time.Sleep(50*time.Millisecond + 30*tick) // well past the bound: many ticks
	events := r.got()
	if len(events) != 1 || events[0].kind != "call_outstanding" {
		t.Fatalf("want one call_outstanding, got %v", events)
	}
	e := events[0].data
	since, _ := e["since"].(float64)
	seconds, _ := e["seconds"].(float64)
	if e["call"] != "poll" || e["id"] != int64(2) || e["bound"] != 0.05 ||
		since < before || since > before+1 || seconds < 0.05 || seconds > 5 {
		t.Fatalf("wrong call_outstanding: %v (began at %v)", e, before)
	}
	close(release)
	<-done
	time.Sleep(5 * tick)
	events = r.got()
	if len(events) != 2 || events[1].kind != "call_returned" {
		t.Fatalf("want call_outstanding then call_returned, got %v", events)
	}
	back := events[1].data
	took, _ := back["seconds"].(float64)
	if back["call"] != "poll" || back["id"] != int64(2) || took < seconds {
		t.Fatalf("wrong call_returned: %v", back)
	}
}

func TestCallWithinItsBoundIsNeverReported(t *testing.T) {
	cw, r := watchWith(0.5)
	cw.run("commit", 0, func() { time.Sleep(10 * tick) })
	time.Sleep(60 * tick) // past the bound after the call returned
	if events := r.got(); len(events) != 0 {
		t.Fatalf("a call that returned in time was reported: %v", events)
	}
}

func TestCallThatPanicsStillReturns(t *testing.T) {
	cw, r := watchWith(0.01)
	func() {
		defer func() { _ = recover() }()
		cw.run("close", 0, func() { time.Sleep(10 * tick); panic("boom") })
	}()
	time.Sleep(5 * tick)
	events := r.got()
	if len(events) != 2 || events[0].kind != "call_outstanding" ||
		events[1].kind != "call_returned" || events[1].data["call"] != "close" {
		t.Fatalf("want call_outstanding then call_returned of close, got %v", events)
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if len(cw.open) != 0 {
		t.Fatalf("calls left open: %v", cw.open)
	}
}
