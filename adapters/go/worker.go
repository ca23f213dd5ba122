package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TP is a topic partition.
type TP struct {
	Topic     string
	Partition int32
}

func tpsJSON(tps []TP) [][]any {
	sortTPs(tps)
	out := make([][]any, 0, len(tps))
	for _, tp := range tps {
		out = append(out, []any{tp.Topic, tp.Partition})
	}
	return out
}

func sortTPs(tps []TP) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

func offsetsJSON(offsets map[TP]int64) [][]any {
	tps := make([]TP, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	out := make([][]any, 0, len(tps))
	for _, tp := range tps {
		out = append(out, []any{tp.Topic, tp.Partition, offsets[tp]})
	}
	return out
}

func keyText(key []byte) any {
	if key == nil {
		return nil
	}
	if utf8.Valid(key) {
		return string(key)
	}
	return hex.EncodeToString(key)
}

func recJSON(r *kgo.Record) []any {
	return []any{r.Topic, r.Partition, r.Offset, keyText(r.Key)}
}

// Worker executes commands against one franz-go consumer and reports every event.
//
// Threading: the main goroutine holds mu while it runs a command, except inside PollRecords
// and Close. franz-go calls the rebalance listener from its own goroutines; the listener takes
// mu, so it runs only while the main goroutine polls or closes (as in a poll-loop client),
// never in the middle of processing or of another command. BlockRebalanceOnPoll adds franz-go's
// own gate: after a non-empty poll no callback runs before the next poll (AllowRebalance).
type Worker struct {
	out        *output
	mu         sync.Mutex
	consumer   *Consumer
	strategy   Strategy
	clock      *CommitClock
	maxRecords int
	owned      map[TP]bool
	processed  map[TP]int64 // uncommitted: last processed + 1
	polled     map[TP]int64
	running    bool
	pollTO     time.Duration
	pool       chan struct{}
	poolWG     sync.WaitGroup
	done       bool
	watch      *CallWatch // every call into the client: one that never returns is reported
}

func newWorker(out *output) *Worker {
	s := defaultStrategy()
	return &Worker{out: out, strategy: s, clock: newClock(s), maxRecords: 100,
		owned: map[TP]bool{}, processed: map[TP]int64{}, polled: map[TP]int64{},
		pollTO: 100 * time.Millisecond, watch: newCallWatch(out.emit, watchTick, callBound)}
}

func (w *Worker) emit(kind string, data map[string]any) { w.out.emit(kind, data) }

// watched makes one call into the client under the watch (call: the Python worker's name).
func (w *Worker) watched(call string, body func()) { w.watch.run(call, 0, body) }

// -- listener (franz-go's goroutines; takes mu) -------------------------------------------------

func (w *Worker) onAssigned(tps []TP) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tp := range tps {
		w.owned[tp] = true
	}
	w.emit("assigned", map[string]any{"partitions": tpsJSON(tps)})
}

func (w *Worker) onRevoked(tps []TP) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit("revoked", map[string]any{"partitions": tpsJSON(tps)})
	if w.consumer != nil {
		if w.strategy.CommitOnRevoke {
			offsets := map[TP]int64{}
			for _, tp := range tps {
				if o, ok := w.processed[tp]; ok {
					offsets[tp] = o
				}
			}
			if len(offsets) > 0 {
				_, _ = w.commit(offsets, "revoke", false)
			}
		}
		if w.consumer.autoCommit {
			w.watched("commit", w.consumer.commitBeforeRevoke) // franz-go's default revoke
		}
	}
	w.forget(tps)
}

func (w *Worker) onLost(tps []TP) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit("lost", map[string]any{"partitions": tpsJSON(tps)})
	w.forget(tps)
}

func (w *Worker) forget(tps []TP) {
	for _, tp := range tps {
		delete(w.owned, tp)
		delete(w.processed, tp)
		delete(w.polled, tp)
		if w.consumer != nil {
			delete(w.consumer.positions, tp)
		}
	}
}

// -- commits ------------------------------------------------------------------------------------

// commit reports commit_requested, commits (offsets nil: the consumer's positions) and reports
// the outcome; a synchronous commit returns what was committed.
func (w *Worker) commit(offsets map[TP]int64, mode string, async bool) (map[TP]int64, *CErr) {
	var requested any
	if offsets != nil {
		requested = offsetsJSON(offsets)
	}
	w.emit("commit_requested", map[string]any{"mode": mode, "offsets": requested})
	if async {
		var err *CErr
		w.watched("commit", func() {
			err = w.consumer.commit(offsets, true, func(result map[TP]int64, err *CErr) {
				w.reportCommit(mode, result, err)
			})
		})
		if err != nil {
			w.reportCommit(mode, orEmpty(offsets), err)
			return nil, err
		}
		w.clock.committed()
		return nil, nil
	}
	var result map[TP]int64
	var failure, err *CErr
	w.watched("commit", func() {
		err = w.consumer.commit(offsets, false, func(r map[TP]int64, e *CErr) {
			result, failure = r, e
		})
	})
	if err == nil {
		err = failure
	}
	if err != nil {
		w.reportCommit(mode, orEmpty(offsets), err)
		return nil, err
	}
	w.reportCommit(mode, result, nil)
	w.clock.committed()
	return result, nil
}

func orEmpty(offsets map[TP]int64) map[TP]int64 {
	if offsets == nil {
		return map[TP]int64{}
	}
	return offsets
}

func (w *Worker) reportCommit(mode string, offsets map[TP]int64, err *CErr) {
	var text any
	if err != nil {
		text = err.Code + ": " + err.Msg
	}
	w.emit("committed", map[string]any{"mode": mode, "ok": err == nil,
		"offsets": offsetsJSON(offsets), "error": text})
}

func (w *Worker) ownedProcessed() map[TP]int64 {
	out := map[TP]int64{}
	for tp, o := range w.processed {
		if w.owned[tp] {
			out[tp] = o
		}
	}
	return out
}

func (w *Worker) commitProcessed(mode string) {
	if offsets := w.ownedProcessed(); len(offsets) > 0 {
		_, _ = w.commit(offsets, mode, w.strategy.Asynchronous)
	}
}

// -- the poll loop --------------------------------------------------------------------------

func (w *Worker) pollOnce(timeout time.Duration, maxRecords int, process bool) ([]*kgo.Record, *CErr) {
	if process && w.clock.beforePoll() {
		w.commitProcessed("manual")
	}
	if err := w.consumer.preparePoll(); err != nil {
		return nil, err
	}
	limit := w.consumer.pollLimit(maxRecords)
	w.mu.Unlock() // the listener may run while we poll
	var fetches kgo.Fetches
	w.watch.run("poll", timeout.Seconds(), func() { fetches = w.consumer.fetch(timeout, limit) })
	w.mu.Lock()
	records, err := w.consumer.take(fetches)
	if err != nil || len(records) == 0 {
		return records, err
	}
	recs := make([][]any, len(records))
	for i, r := range records {
		recs[i] = recJSON(r)
		w.polled[TP{r.Topic, r.Partition}] = r.Offset + 1
	}
	w.emit("polled", map[string]any{"records": recs})
	if process {
		if w.strategy.Processing == "pool" {
			w.processInPool(records)
		} else {
			w.processInLoop(records, recs)
		}
	}
	return records, nil
}

func (w *Worker) work() {
	if w.strategy.ProcessMs > 0 {
		time.Sleep(time.Duration(w.strategy.ProcessMs * float64(time.Millisecond)))
	}
}

// processInLoop processes records one by one; each is reported as processed as soon as its
// work is done (with simulated work), so a crash mid-batch leaves an exact trace.
func (w *Worker) processInLoop(records []*kgo.Record, recs [][]any) {
	perRecord := w.strategy.ProcessMs > 0
	var done [][]any
	flush := func() {
		if len(done) > 0 {
			w.emit("processed", map[string]any{"records": done})
			done = nil
		}
	}
	for i, r := range records {
		tp := TP{r.Topic, r.Partition}
		if !w.owned[tp] {
			continue // revoked while this batch was in hand: not ours to process
		}
		w.work()
		done = append(done, recs[i])
		w.processed[tp] = r.Offset + 1
		commitNow := w.clock.afterRecord()
		if perRecord || commitNow {
			flush()
		}
		if commitNow {
			w.commitProcessed(lower(w.strategy.Name))
		}
	}
	flush()
	if w.clock.afterBatch() {
		w.commitProcessed("batch")
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// processInPool hands records to a pool of 4 and commits what was polled, not what finished
// (S6).
func (w *Worker) processInPool(records []*kgo.Record) {
	if w.pool == nil {
		w.pool = make(chan struct{}, 4)
	}
	for _, r := range records {
		rec := recJSON(r)
		w.pool <- struct{}{}
		w.poolWG.Add(1)
		go func() {
			defer func() { <-w.pool; w.poolWG.Done() }()
			ms := w.strategy.ProcessMs
			if ms < 1 {
				ms = 1
			}
			time.Sleep(time.Duration(rand.Float64() * ms * 4 * float64(time.Millisecond)))
			w.emit("processed", map[string]any{"records": [][]any{rec}})
		}()
	}
	offsets := map[TP]int64{}
	for tp, o := range w.polled {
		if w.owned[tp] {
			offsets[tp] = o
		}
	}
	if len(offsets) > 0 && w.strategy.Name != "auto" {
		_, _ = w.commit(offsets, "batch", w.strategy.Asynchronous)
	}
}

// -- commands -------------------------------------------------------------------------------

func (w *Worker) serve(commands <-chan command) {
	w.mu.Lock()
	for !w.done {
		var cmd command
		got := false
		if w.running {
			select {
			case cmd = <-commands:
				got = true
			default:
			}
		} else {
			w.mu.Unlock()
			cmd = <-commands
			w.mu.Lock()
			got = true
		}
		if got {
			if cmd.eof {
				return
			}
			w.execute(cmd)
			continue
		}
		if w.running {
			w.runOnce()
		}
	}
}

func (w *Worker) runOnce() {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "panic in run: %v\n%s", p, debug.Stack())
			w.emit("error", map[string]any{"code": "adapter-error",
				"message": fmt.Sprint("panic: ", p), "fatal": false})
			w.running = false
		}
	}()
	if _, err := w.pollOnce(w.pollTO, w.maxRecords, true); err != nil {
		w.emit("error", map[string]any{"code": err.Code, "message": err.Msg, "fatal": false})
	}
}

func (w *Worker) execute(cmd command) {
	if cmd.bad != nil {
		w.out.replyError(nil, cmd.bad)
		return
	}
	msg := cmd.msg
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(*CErr); ok { // a malformed field (see field helpers)
				w.out.replyError(msg, e)
				return
			}
			fmt.Fprintf(os.Stderr, "panic in %v: %v\n%s", msg["type"], p, debug.Stack())
			w.out.replyError(msg, cerr("adapter-error", "panic: %v", p))
		}
	}()
	kind, _ := msg["type"].(string)
	handler := map[string]func(map[string]any) (map[string]any, *CErr){
		"describe": w.cmdDescribe, "init": w.cmdInit, "subscribe": w.cmdSubscribe,
		"assign": w.cmdAssign, "poll": w.cmdPoll, "run": w.cmdRun, "halt": w.cmdHalt,
		"commit": w.cmdCommit, "seek": w.cmdSeek, "position": w.cmdPosition,
		"committed": w.cmdCommitted, "pause": w.cmdPause, "resume": w.cmdResume,
		"assignment": w.cmdAssignment, "close": w.cmdClose,
	}[kind]
	if handler == nil {
		w.out.replyError(msg, cerr("malformed-command", "unknown command type %q", msg["type"]))
		return
	}
	if kind != "init" && kind != "describe" && w.consumer == nil {
		w.out.replyError(msg, cerr("malformed-command", "the first command must be 'init'"))
		return
	}
	data, err := handler(msg)
	if err != nil {
		w.out.replyError(msg, err)
		return
	}
	w.out.reply(msg, data)
}

// -- field helpers (a missing or mistyped field panics with a malformed-command error) --------

func field(msg map[string]any, name string) any {
	v, ok := msg[name]
	if !ok {
		panic(cerr("malformed-command", "KeyError: '%s'", name))
	}
	return v
}

func asInt(v any, name string) int64 {
	f, ok := v.(float64)
	if !ok {
		panic(cerr("malformed-command", "TypeError: %s must be a number", name))
	}
	return int64(f)
}

func asFloat(msg map[string]any, name string, def float64) float64 {
	v, ok := msg[name]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		panic(cerr("malformed-command", "TypeError: %s must be a number", name))
	}
	return f
}

func asBool(msg map[string]any, name string) bool {
	b, _ := msg[name].(bool)
	return b
}

func partitionsField(msg map[string]any, name string) []TP {
	raw, ok := field(msg, name).([]any)
	if !ok {
		panic(cerr("malformed-command", "TypeError: %s must be a list", name))
	}
	out := make([]TP, 0, len(raw))
	for _, item := range raw {
		pair, ok := item.([]any)
		if !ok || len(pair) != 2 {
			panic(cerr("malformed-command", "ValueError: %s items are [topic, partition]", name))
		}
		topic, _ := pair[0].(string)
		out = append(out, TP{topic, int32(asInt(pair[1], "partition"))})
	}
	return out
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// -- command handlers -----------------------------------------------------------------------

func capabilities() map[string]bool {
	return map[string]bool{"consumer_protocol": hasServerSideBalancer, "cooperative": true,
		"manual_assignment": true, "pause_resume": true, "async_commit": true,
		"offset_reset_none": true, "on_lost": true,
		// BlockRebalanceOnPoll + RebalanceTimeout(max.poll.interval.ms): a member that stops
		// polling holds up the next rebalance until the timeout removes it
		"poll_interval": true, "unsubscribe": false, "seek_to_end": false,
		"reports_calls": true} // call_outstanding / call_returned (CallWatch)
}

func (w *Worker) info() map[string]any {
	return map[string]any{"adapter": adapterName, "client": "franz-go",
		"client_version": clientVersion(), "capabilities": capabilities(), "pid": os.Getpid()}
}

func checkAdapter(msg map[string]any) *CErr {
	if name, _ := msg["adapter"].(string); name != adapterName {
		e := cerr("unknown-adapter", "unknown client %q: this worker runs %s", msg["adapter"],
			adapterName)
		e.Fatal = true
		return e
	}
	return nil
}

func (w *Worker) cmdDescribe(msg map[string]any) (map[string]any, *CErr) {
	if err := checkAdapter(msg); err != nil {
		return nil, err
	}
	raw, _ := msg["configs"].([]any)
	reasons := make([]any, 0, len(raw))
	for _, item := range raw {
		obj, _ := item.(map[string]any)
		cfg, err := parseConfig(obj)
		if err != nil {
			return nil, err
		}
		if why := cfg.unsupported(); why != "" {
			reasons = append(reasons, why)
		} else {
			reasons = append(reasons, nil)
		}
	}
	out := w.info()
	delete(out, "pid")
	out["unsupported"] = reasons
	out["variants"] = []string{}
	out["python"] = ""
	out["runtime"] = runtime.Version()
	exe, _ := os.Executable()
	out["executable"] = exe
	return out, nil
}

func (w *Worker) cmdInit(msg map[string]any) (map[string]any, *CErr) {
	if w.consumer != nil {
		return nil, cerr("malformed-command", "init was already done")
	}
	if err := checkAdapter(msg); err != nil {
		return nil, err
	}
	obj, _ := msg["config"].(map[string]any)
	cfg, err := parseConfig(obj)
	if err != nil {
		return nil, err
	}
	strategy := defaultStrategy()
	if raw, ok := msg["strategy"].(map[string]any); ok {
		if e := decodeStrict(raw, &strategy); e != nil {
			return nil, cerr("malformed-command", "TypeError: strategy: %v", e)
		}
	}
	if e := strategy.validate(); e != nil {
		return nil, cerr("malformed-command", "ValueError: %v", e)
	}
	if strategy.Name == "auto" {
		cfg.EnableAutoCommit = true
	}
	if why := cfg.unsupported(); why != "" {
		return nil, cerr("unsupported", "%s", why)
	}
	w.strategy = strategy
	w.clock = newClock(strategy)
	w.maxRecords = int(asFloat(msg, "max_records", float64(cfg.MaxPollRecords)))
	consumer, cErr := newConsumer(cfg, w)
	if cErr != nil {
		return nil, cErr
	}
	w.consumer = consumer
	info := w.info()
	w.emit("ready", info)
	return info, nil
}

func (w *Worker) cmdSubscribe(msg map[string]any) (map[string]any, *CErr) {
	raw, ok := field(msg, "topics").([]any)
	if !ok {
		return nil, cerr("malformed-command", "TypeError: topics must be a list")
	}
	topics := make([]string, 0, len(raw))
	for _, t := range raw {
		s, _ := t.(string)
		topics = append(topics, s)
	}
	var err *CErr
	w.watched("subscribe", func() { err = w.consumer.subscribe(topics) })
	return nil, err
}

func (w *Worker) cmdAssign(msg map[string]any) (map[string]any, *CErr) {
	tps := partitionsField(msg, "partitions")
	var err *CErr
	w.watched("assign", func() { err = w.consumer.assign(tps) })
	if err != nil {
		return nil, err
	}
	w.owned = map[TP]bool{}
	for _, tp := range tps {
		w.owned[tp] = true
	}
	w.emit("assigned", map[string]any{"partitions": tpsJSON(tps), "manual": true})
	return nil, nil
}

func (w *Worker) cmdPoll(msg map[string]any) (map[string]any, *CErr) {
	process := true
	if v, ok := msg["process"].(bool); ok {
		process = v
	}
	records, err := w.pollOnce(seconds(asFloat(msg, "timeout", 1.0)),
		int(asFloat(msg, "max_records", float64(w.maxRecords))), process)
	if err != nil {
		return nil, err
	}
	recs := make([][]any, len(records))
	for i, r := range records {
		recs[i] = recJSON(r)
	}
	return map[string]any{"records": recs}, nil
}

func (w *Worker) cmdRun(msg map[string]any) (map[string]any, *CErr) {
	w.pollTO = seconds(asFloat(msg, "poll_timeout", 0.1))
	w.running = true
	return nil, nil
}

func (w *Worker) cmdHalt(map[string]any) (map[string]any, *CErr) {
	w.running = false
	return nil, nil
}

func (w *Worker) cmdCommit(msg map[string]any) (map[string]any, *CErr) {
	var offsets map[TP]int64
	if raw, ok := msg["offsets"].([]any); ok {
		offsets = map[TP]int64{}
		for _, item := range raw {
			triple, ok := item.([]any)
			if !ok || len(triple) != 3 {
				return nil, cerr("malformed-command",
					"ValueError: offsets items are [topic, partition, offset]")
			}
			topic, _ := triple[0].(string)
			offsets[TP{topic, int32(asInt(triple[1], "partition"))}] = asInt(triple[2], "offset")
		}
	} else if asBool(msg, "processed") {
		offsets = w.ownedProcessed()
		if len(offsets) == 0 { // nothing processed since the last assignment or seek
			return map[string]any{"offsets": [][]any{}}, nil
		}
	}
	async := asBool(msg, "asynchronous")
	mode := "sync"
	if async {
		mode = "async"
	}
	result, err := w.commit(offsets, mode, async)
	if err != nil {
		return nil, err
	}
	if result == nil {
		return map[string]any{"offsets": nil}, nil
	}
	return map[string]any{"offsets": offsetsJSON(result)}, nil
}

func (w *Worker) cmdSeek(msg map[string]any) (map[string]any, *CErr) {
	topic, _ := field(msg, "topic").(string)
	tp := TP{topic, int32(asInt(field(msg, "partition"), "partition"))}
	offset := asInt(field(msg, "offset"), "offset")
	var err *CErr
	w.watched("seek", func() { err = w.consumer.seek(tp, offset) })
	if err != nil {
		return nil, err
	}
	delete(w.processed, tp)
	w.emit("seeked", map[string]any{"topic": tp.Topic, "partition": tp.Partition,
		"offset": offset})
	return nil, nil
}

func (w *Worker) cmdPosition(msg map[string]any) (map[string]any, *CErr) {
	topic, _ := field(msg, "topic").(string)
	tp := TP{topic, int32(asInt(field(msg, "partition"), "partition"))}
	var offset int64
	var err *CErr
	w.watched("position", func() { offset, err = w.consumer.position(tp) })
	if err != nil {
		return nil, err
	}
	return map[string]any{"offset": offset}, nil
}

func (w *Worker) cmdCommitted(msg map[string]any) (map[string]any, *CErr) {
	tps := partitionsField(msg, "partitions")
	var res map[TP]int64
	var err *CErr
	w.watched("committed", func() {
		res, err = w.consumer.committed(context.Background(), tps)
	})
	if err != nil {
		return nil, err
	}
	sortTPs(tps)
	out := make([][]any, 0, len(tps))
	for _, tp := range tps {
		if o, ok := res[tp]; ok {
			out = append(out, []any{tp.Topic, tp.Partition, o})
		} else {
			out = append(out, []any{tp.Topic, tp.Partition, nil})
		}
	}
	return map[string]any{"offsets": out}, nil
}

func (w *Worker) cmdPause(msg map[string]any) (map[string]any, *CErr) {
	tps := partitionsField(msg, "partitions")
	var err *CErr
	w.watched("pause", func() { err = w.consumer.pause(tps) })
	if err != nil {
		return nil, err
	}
	w.emit("paused", map[string]any{"partitions": tpsJSON(tps)})
	return nil, nil
}

func (w *Worker) cmdResume(msg map[string]any) (map[string]any, *CErr) {
	tps := partitionsField(msg, "partitions")
	var err *CErr
	w.watched("resume", func() { err = w.consumer.resume(tps) })
	if err != nil {
		return nil, err
	}
	w.emit("resumed", map[string]any{"partitions": tpsJSON(tps)})
	return nil, nil
}

func (w *Worker) cmdAssignment(map[string]any) (map[string]any, *CErr) {
	if err := w.consumer.checkOpen(); err != nil {
		return nil, err
	}
	tps := make([]TP, 0, len(w.owned))
	for tp := range w.owned {
		tps = append(tps, tp)
	}
	return map[string]any{"partitions": tpsJSON(tps)}, nil
}

func (w *Worker) cmdClose(msg map[string]any) (map[string]any, *CErr) {
	w.running = false
	if w.pool != nil {
		w.poolWG.Wait()
	}
	if asBool(msg, "commit") && !w.consumer.closed {
		w.commitProcessed("close")
	}
	if !w.consumer.closed {
		w.mu.Unlock() // the listener runs while the consumer leaves the group
		w.watched("close", w.consumer.close)
		w.mu.Lock()
		w.consumer.closed = true
	}
	w.emit("closed", nil)
	w.done = true
	return nil, nil
}
