package main

import (
	"fmt"
	"time"
)

// Strategy mirrors conformance/strategies.py Strategy (a JSON value sent with init).
type Strategy struct {
	Name           string  `json:"name"`
	IntervalMs     int     `json:"interval_ms"`
	Count          int     `json:"count"`
	Asynchronous   bool    `json:"asynchronous"`
	CommitOnRevoke bool    `json:"commit_on_revoke"`
	Processing     string  `json:"processing"`
	ProcessMs      float64 `json:"process_ms"`
}

func defaultStrategy() Strategy {
	return Strategy{Name: "BATCH", IntervalMs: 1000, Count: 10, Processing: "in-loop"}
}

func (s Strategy) validate() error {
	switch s.Name {
	case "auto", "RECORD", "BATCH", "TIME", "COUNT", "COUNT_TIME", "MANUAL", "MANUAL_IMMEDIATE":
	default:
		return fmt.Errorf("unknown commit strategy %q", s.Name)
	}
	switch s.Processing {
	case "in-loop", "pool", "per-partition":
	default:
		return fmt.Errorf("unknown processing model %q", s.Processing)
	}
	return nil
}

// CommitClock is the per-worker state a strategy needs to decide when to commit.
type CommitClock struct {
	s            Strategy
	sinceCommit  int
	lastCommit   time.Time
	ackedPending bool
}

func newClock(s Strategy) *CommitClock { return &CommitClock{s: s, lastCommit: time.Now()} }

func (c *CommitClock) committed() {
	c.sinceCommit = 0
	c.lastCommit = time.Now()
	c.ackedPending = false
}

// afterRecord is called once a record is processed: commit now?
func (c *CommitClock) afterRecord() bool {
	c.sinceCommit++
	switch c.s.Name {
	case "BATCH", "auto":
		return false
	case "RECORD", "MANUAL_IMMEDIATE":
		return true
	case "MANUAL":
		c.ackedPending = true
		return false
	}
	countDue := c.sinceCommit >= c.s.Count
	timeDue := time.Since(c.lastCommit) >= time.Duration(c.s.IntervalMs)*time.Millisecond
	switch c.s.Name {
	case "COUNT":
		return countDue
	case "TIME":
		return timeDue
	case "COUNT_TIME":
		return countDue || timeDue
	}
	return false
}

func (c *CommitClock) afterBatch() bool { return c.s.Name == "BATCH" && c.sinceCommit > 0 }

func (c *CommitClock) beforePoll() bool { return c.s.Name == "MANUAL" && c.ackedPending }
