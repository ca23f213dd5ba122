package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

const requestTimeout = 15 * time.Second

// Config mirrors adapters/base.py ConsumerConfig (the JSON keys of `config` in `init`).
type Config struct {
	BootstrapServers       string         `json:"bootstrap_servers"`
	GroupID                *string        `json:"group_id"`
	AutoOffsetReset        string         `json:"auto_offset_reset"`
	EnableAutoCommit       bool           `json:"enable_auto_commit"`
	AutoCommitIntervalMs   int            `json:"auto_commit_interval_ms"`
	GroupProtocol          string         `json:"group_protocol"`
	AssignmentStrategy     string         `json:"assignment_strategy"`
	MaxPollRecords         int            `json:"max_poll_records"`
	SessionTimeoutMs       int            `json:"session_timeout_ms"`
	HeartbeatIntervalMs    int            `json:"heartbeat_interval_ms"`
	MaxPollIntervalMs      int            `json:"max_poll_interval_ms"`
	MetadataMaxAgeMs       int            `json:"metadata_max_age_ms"`
	FetchMaxBytes          *int32         `json:"fetch_max_bytes"`
	MaxPartitionFetchBytes *int32         `json:"max_partition_fetch_bytes"`
	PartitionEOF           bool           `json:"partition_eof"`
	IsolationLevel         string         `json:"isolation_level"`
	ClientID               *string        `json:"client_id"`
	Extra                  map[string]any `json:"extra"`
	// --early-access: franz-go has no early-access release of the consumer protocol to allow
	// (before kgo.ServerSideBalancer only an undocumented beta key), so it changes nothing
	EarlyAccess bool `json:"early_access"`
}

func decodeStrict(obj map[string]any, into any) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func parseConfig(obj map[string]any) (Config, *CErr) {
	cfg := Config{AutoOffsetReset: "earliest", AutoCommitIntervalMs: 5000,
		GroupProtocol: "classic", AssignmentStrategy: "range", MaxPollRecords: 500,
		SessionTimeoutMs: 6000, HeartbeatIntervalMs: 500, MaxPollIntervalMs: 30000,
		MetadataMaxAgeMs: 300000, IsolationLevel: "read_uncommitted"}
	if err := decodeStrict(obj, &cfg); err != nil {
		return cfg, cerr("malformed-command", "ValueError: config: %v", err)
	}
	if cfg.BootstrapServers == "" {
		return cfg, cerr("malformed-command", "TypeError: config needs bootstrap_servers")
	}
	return cfg, nil
}

// unsupported says why this franz-go release cannot run the config ("" if it can).
func (c Config) unsupported() string {
	release := "franz-go " + clientVersion()
	switch c.GroupProtocol {
	case "classic":
	case "consumer":
		if !hasServerSideBalancer {
			return release + " has no public KIP-848 group.protocol=consumer: " +
				"kgo.ServerSideBalancer came with franz-go 1.22.0 (this release has the " +
				"next-gen protocol only behind an undocumented beta context key)"
		}
	default:
		return fmt.Sprintf("%s: unknown group protocol %q", release, c.GroupProtocol)
	}
	switch c.AssignmentStrategy {
	case "range", "roundrobin", "cooperative-sticky":
	default:
		return fmt.Sprintf("%s has no %s balancer", release, c.AssignmentStrategy)
	}
	switch c.AutoOffsetReset {
	case "earliest", "latest", "none":
	default:
		return fmt.Sprintf("%s: unknown auto_offset_reset %q", release, c.AutoOffsetReset)
	}
	switch c.IsolationLevel {
	case "read_uncommitted", "read_committed":
	default:
		return fmt.Sprintf("%s: unknown isolation_level %q", release, c.IsolationLevel)
	}
	for key, value := range c.Extra {
		if key == "security.protocol" && strings.ToLower(fmt.Sprint(value)) != "plaintext" {
			return fmt.Sprintf("the %s worker speaks plaintext only (extra %s=%v)", release,
				key, value)
		}
	}
	return ""
}

func (c Config) group() string {
	if c.GroupID == nil {
		return ""
	}
	return *c.GroupID
}

// Consumer maps the worker's calls to one franz-go client. Its fields are guarded by the
// worker's mu (the main goroutine or a listener callback holds it).
type Consumer struct {
	cfg        Config
	w          *Worker
	base       []kgo.Opt
	admin      *kgo.Client // requests outside the consumer: committed, list offsets, manual commits
	cl         *kgo.Client
	subscribed bool
	assigned   bool
	closed     bool
	autoCommit bool
	positions  map[TP]int64 // after returned records and seeks
	pendingErr *CErr
}

func newConsumer(cfg Config, w *Worker) (*Consumer, *CErr) {
	base := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(cfg.BootstrapServers, ",")...),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)),
		kgo.MetadataMaxAge(time.Duration(cfg.MetadataMaxAgeMs) * time.Millisecond),
		kgo.MetadataMinAge(minDuration(time.Second,
			time.Duration(cfg.MetadataMaxAgeMs)*time.Millisecond)),
		kgo.FetchMaxWait(500 * time.Millisecond), // Java's fetch.max.wait.ms
	}
	if cfg.IsolationLevel == "read_committed" {
		base = append(base, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if cfg.ClientID != nil {
		base = append(base, kgo.ClientID(*cfg.ClientID))
	}
	if cfg.FetchMaxBytes != nil && *cfg.FetchMaxBytes > 0 {
		base = append(base, kgo.FetchMaxBytes(*cfg.FetchMaxBytes))
	}
	if cfg.MaxPartitionFetchBytes != nil && *cfg.MaxPartitionFetchBytes > 0 {
		base = append(base, kgo.FetchMaxPartitionBytes(*cfg.MaxPartitionFetchBytes))
	}
	for key := range cfg.Extra { // partition_eof: franz-go has no end-of-partition events
		if key != "security.protocol" {
			fmt.Fprintf(os.Stderr, "franz-go worker: extra %s ignored\n", key)
		}
	}
	// Manual commits go out as the client's own OffsetCommit request (generation -1), which
	// needs topic names: OffsetCommit v10 (Kafka 4.1+) addresses topics by id.
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 9)
	admin, err := kgo.NewClient(append(append([]kgo.Opt{}, base...),
		kgo.MaxVersions(versions))...)
	if err != nil {
		return nil, cerr("consumer-error", "cannot create the client: %v", err)
	}
	return &Consumer{cfg: cfg, w: w, base: base, admin: admin, positions: map[TP]int64{},
		autoCommit: cfg.EnableAutoCommit && cfg.GroupID != nil}, nil
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func (c *Consumer) checkOpen() *CErr {
	if c.closed {
		return cerr("illegal-state", "the consumer is closed")
	}
	return nil
}

func (c *Consumer) resetOffset() kgo.Offset {
	switch c.cfg.AutoOffsetReset {
	case "latest":
		return kgo.NewOffset().AtEnd()
	case "none":
		return kgo.NewOffset().AtCommitted()
	}
	return kgo.NewOffset().AtStart()
}

func toTPs(m map[string][]int32) []TP {
	var out []TP
	for topic, ps := range m {
		for _, p := range ps {
			out = append(out, TP{topic, p})
		}
	}
	return out
}

func groupedTPs(tps []TP) map[string][]int32 {
	out := map[string][]int32{}
	for _, tp := range tps {
		out[tp.Topic] = append(out[tp.Topic], tp.Partition)
	}
	return out
}

func (c *Consumer) balancers() []kgo.Opt {
	if c.cfg.GroupProtocol == "consumer" {
		// KIP-848: the broker assigns; franz-go's range balancer asks for the broker's
		// "range" assignor, the sticky one for "uniform" (the broker's default).
		b := kgo.StickyBalancer()
		if c.cfg.AssignmentStrategy == "range" {
			b = kgo.RangeBalancer()
		}
		return append(serverSideBalancer(), kgo.Balancers(b))
	}
	var b kgo.GroupBalancer
	switch c.cfg.AssignmentStrategy {
	case "roundrobin":
		b = kgo.RoundRobinBalancer()
	case "cooperative-sticky":
		b = kgo.CooperativeStickyBalancer()
	default:
		b = kgo.RangeBalancer()
	}
	return []kgo.Opt{kgo.Balancers(b),
		kgo.SessionTimeout(time.Duration(c.cfg.SessionTimeoutMs) * time.Millisecond),
		kgo.HeartbeatInterval(time.Duration(c.cfg.HeartbeatIntervalMs) * time.Millisecond)}
}

func (c *Consumer) subscribe(topics []string) *CErr {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.cfg.GroupID == nil {
		return cerr("illegal-state", "subscribe needs a group id (the consumer has none)")
	}
	if c.assigned {
		return cerr("illegal-state", "subscribe() after assign() (manual and group assignment mix)")
	}
	if c.subscribed {
		c.cl.AddConsumeTopics(topics...)
		return nil
	}
	w := c.w
	opts := append(append([]kgo.Opt{}, c.base...),
		kgo.ConsumerGroup(*c.cfg.GroupID),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(c.resetOffset()),
		kgo.BlockRebalanceOnPoll(),
		kgo.RebalanceTimeout(time.Duration(c.cfg.MaxPollIntervalMs)*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if tps := toTPs(m); len(tps) > 0 {
				w.onAssigned(tps)
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if tps := toTPs(m); len(tps) > 0 {
				w.onRevoked(tps)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if tps := toTPs(m); len(tps) > 0 {
				w.onLost(tps)
			}
		}),
	)
	opts = append(opts, c.balancers()...)
	if c.autoCommit {
		opts = append(opts,
			kgo.AutoCommitInterval(time.Duration(c.cfg.AutoCommitIntervalMs)*time.Millisecond),
			kgo.AutoCommitCallback(c.onAutoCommit))
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return cerr("consumer-error", "cannot create the consumer: %v", err)
	}
	c.cl, c.subscribed = cl, true
	return nil
}

func (c *Consumer) assign(tps []TP) *CErr {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.subscribed {
		return cerr("illegal-state", "assign() after subscribe() (manual and group assignment mix)")
	}
	keep := map[TP]bool{}
	for _, tp := range tps {
		keep[tp] = true
	}
	for tp := range c.positions {
		if !keep[tp] {
			delete(c.positions, tp)
		}
	}
	committed := map[TP]int64{}
	if c.cfg.GroupID != nil && len(tps) > 0 {
		var err *CErr
		if committed, err = c.committed(context.Background(), tps); err != nil {
			return err
		}
	}
	start := map[string]map[int32]kgo.Offset{}
	for _, tp := range tps {
		var at kgo.Offset
		if o, ok := c.positions[tp]; ok {
			at = kgo.NewOffset().At(o)
		} else if o, ok := committed[tp]; ok {
			at = kgo.NewOffset().At(o)
		} else if c.cfg.AutoOffsetReset == "none" {
			c.pendingErr = cerr("no-offset-for-partition",
				"no committed offset and auto_offset_reset=none for %s [%d]", tp.Topic, tp.Partition)
			continue
		} else {
			at = c.resetOffset()
		}
		if start[tp.Topic] == nil {
			start[tp.Topic] = map[int32]kgo.Offset{}
		}
		start[tp.Topic][tp.Partition] = at
	}
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	reset := kgo.NewOffset().AtStart()
	if c.cfg.AutoOffsetReset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	} else if c.cfg.AutoOffsetReset == "none" {
		reset = kgo.NoResetOffset()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, c.base...),
		kgo.ConsumePartitions(start), kgo.ConsumeResetOffset(reset))...)
	if err != nil {
		return cerr("consumer-error", "cannot create the consumer: %v", err)
	}
	c.cl, c.assigned = cl, true
	return nil
}

// fetch is one PollRecords (called without the worker's mu: the listener may run meanwhile).
func (c *Consumer) fetch(timeout time.Duration, maxRecords int) kgo.Fetches {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	} else {
		ctx = nil //nolint:staticcheck // nil: only what is buffered (PollRecords' doc)
	}
	c.cl.AllowRebalance() // the previous batch is processed and committed
	return c.cl.PollRecords(ctx, maxRecords)
}

func (c *Consumer) pollLimit(maxRecords int) int {
	limit := maxRecords
	if c.cfg.MaxPollRecords < limit {
		limit = c.cfg.MaxPollRecords
	}
	if limit < 1 {
		limit = 1
	}
	return limit
}

// take turns one poll's fetches into records (positions advance) or an error.
func (c *Consumer) take(fetches kgo.Fetches) ([]*kgo.Record, *CErr) {
	records := fetches.Records()
	var failure *CErr
	fetches.EachError(func(topic string, partition int32, err error) {
		if failure != nil {
			return
		}
		var loss *kgo.ErrDataLoss
		var session *kgo.ErrGroupSession
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		case errors.Is(err, kgo.ErrClientClosed):
			failure = cerr("illegal-state", "the consumer is closed")
		case strings.Contains(err.Error(), "no prior committed offset"):
			failure = cerr("no-offset-for-partition",
				"no committed offset and auto_offset_reset=none for %s [%d]: %v", topic,
				partition, err)
		case errors.As(err, &loss), errors.As(err, &session), kerr.IsRetriable(err):
			// data loss notices, and a group session ended (on_lost already ran): franz-go
			// recovers (resets, rejoins) by itself, as a poll-loop client does inside poll
			fmt.Fprintf(os.Stderr, "franz-go: %s [%d]: %v\n", topic, partition, err)
		default:
			failure = cerr("consumer-error", "poll failed for %s [%d]: %v", topic, partition, err)
		}
	})
	for _, r := range records {
		c.positions[TP{r.Topic, r.Partition}] = r.Offset + 1
	}
	if failure != nil {
		if len(records) > 0 {
			c.pendingErr = failure
			return records, nil
		}
		return nil, failure
	}
	return records, nil
}

func (c *Consumer) preparePoll() *CErr {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.cl == nil {
		return cerr("illegal-state", "the consumer is not subscribed to any topics or assigned "+
			"any partitions")
	}
	if c.pendingErr != nil {
		err := c.pendingErr
		c.pendingErr = nil
		return err
	}
	return nil
}

// -- commits ------------------------------------------------------------------------------

func epochOffsets(offsets map[TP]int64) map[string]map[int32]kgo.EpochOffset {
	out := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range offsets {
		if out[tp.Topic] == nil {
			out[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		out[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	return out
}

func requestOffsets(req *kmsg.OffsetCommitRequest) map[TP]int64 {
	out := map[TP]int64{}
	if req == nil {
		return out
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			out[TP{t.Topic, p.Partition}] = p.Offset
		}
	}
	return out
}

// commitError is a commit's failure as the protocol's error (nil: every partition committed).
func commitError(err error, resp *kmsg.OffsetCommitResponse, what string) *CErr {
	if err == nil && resp != nil {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
					err = fmt.Errorf("%s [%d]: %w", t.Topic, p.Partition, perr)
					break
				}
			}
			if err != nil {
				break
			}
		}
	}
	if err == nil {
		return nil
	}
	code := "commit-failed"
	if errors.Is(err, kerr.FencedInstanceID) {
		code = "fenced-member"
	}
	return &CErr{Code: code, Msg: fmt.Sprintf("%s: %v", what, err), Retriable: kerr.IsRetriable(err)}
}

// commit commits offsets (nil: the positions of owned partitions); done gets the outcome
// (from franz-go's goroutine when asynchronous, before commit returns when not).
func (c *Consumer) commit(offsets map[TP]int64, async bool, done func(map[TP]int64, *CErr)) *CErr {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.cfg.GroupID == nil {
		return cerr("illegal-state", "commit needs a group id (the consumer has none)")
	}
	if offsets == nil {
		offsets = map[TP]int64{}
		for tp, o := range c.positions {
			if c.w.owned[tp] {
				offsets[tp] = o
			}
		}
	}
	if len(offsets) == 0 {
		if async {
			go done(map[TP]int64{}, nil)
		} else {
			done(map[TP]int64{}, nil)
		}
		return nil
	}
	if !c.subscribed { // manual assignment: a commit outside group management
		if async {
			go func() { done(c.commitStandalone(offsets)) }()
		} else {
			done(c.commitStandalone(offsets))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
	onDone := func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse,
		err error) {
		defer cancel()
		result := requestOffsets(req)
		if len(result) == 0 {
			result = offsets
		}
		done(result, commitError(err, resp, "commit failed"))
	}
	if async {
		c.cl.CommitOffsets(ctx, epochOffsets(offsets), onDone)
	} else {
		c.cl.CommitOffsetsSync(ctx, epochOffsets(offsets), onDone)
	}
	return nil
}

func (c *Consumer) commitStandalone(offsets map[TP]int64) (map[TP]int64, *CErr) {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = c.cfg.group()
	req.Generation = -1
	byTopic := map[string]*kmsg.OffsetCommitRequestTopic{}
	for tp, o := range offsets {
		t := byTopic[tp.Topic]
		if t == nil {
			nt := kmsg.NewOffsetCommitRequestTopic()
			nt.Topic = tp.Topic
			t = &nt
			byTopic[tp.Topic] = t
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = tp.Partition, o, -1
		t.Partitions = append(t.Partitions, p)
	}
	for _, t := range byTopic {
		req.Topics = append(req.Topics, *t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.admin)
	return offsets, commitError(err, resp, "commit failed")
}

func (c *Consumer) onAutoCommit(_ *kgo.Client, req *kmsg.OffsetCommitRequest,
	resp *kmsg.OffsetCommitResponse, err error) {
	offsets := requestOffsets(req)
	if len(offsets) == 0 && err == nil {
		return // nothing to commit
	}
	c.w.reportCommit("auto", offsets, commitError(err, resp, "auto commit failed"))
}

// commitBeforeRevoke is franz-go's default revoke with auto commit (a blocking commit of
// what was polled), which a listener of our own replaces; reported as mode auto.
func (c *Consumer) commitBeforeRevoke() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
	defer cancel()
	c.cl.CommitOffsetsSync(ctx, c.cl.UncommittedOffsets(), c.onAutoCommit)
}

// -- positions and offsets ----------------------------------------------------------------

func (c *Consumer) requireOwned(tp TP, what string) *CErr {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if !c.w.owned[tp] {
		return cerr("illegal-state", "%s of %s [%d], which is not assigned", what, tp.Topic,
			tp.Partition)
	}
	return nil
}

func (c *Consumer) seek(tp TP, offset int64) *CErr {
	if err := c.requireOwned(tp, "seek"); err != nil {
		return err
	}
	if c.assigned {
		// SetOffsets skips a partition not consumed yet (right after assign(), before
		// metadata arrived): take it out and add it back at the offset instead.
		c.cl.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{
			tp.Topic: {tp.Partition: kgo.NewOffset().At(offset)}})
	} else {
		c.cl.SetOffsets(epochOffsets(map[TP]int64{tp: offset}))
	}
	c.positions[tp] = offset
	return nil
}

// position is the offset of the next record poll returns: after returned records and seeks;
// before any, decided as Java's position() does (committed offset, else the reset policy
// applied to the log now) and made the consumer's with a seek.
func (c *Consumer) position(tp TP) (int64, *CErr) {
	if err := c.requireOwned(tp, "position"); err != nil {
		return 0, err
	}
	if o, ok := c.positions[tp]; ok {
		return o, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if c.cfg.GroupID != nil {
		committed, err := c.committed(ctx, []TP{tp})
		if err != nil {
			return 0, err
		}
		if o, ok := committed[tp]; ok {
			return o, c.seek(tp, o)
		}
	}
	if c.cfg.AutoOffsetReset == "none" {
		return 0, cerr("no-offset-for-partition",
			"no committed offset and auto_offset_reset=none for %s [%d]", tp.Topic, tp.Partition)
	}
	ts := int64(-2)
	if c.cfg.AutoOffsetReset == "latest" {
		ts = -1
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = tp.Partition, ts, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return 0, cerr("consumer-error", "position failed: %v", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition != tp.Partition {
				continue
			}
			if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
				return 0, &CErr{Code: "consumer-error", Msg: fmt.Sprintf("position failed: %v", perr),
					Retriable: kerr.IsRetriable(perr)}
			}
			return p.Offset, c.seek(tp, p.Offset)
		}
	}
	return 0, cerr("consumer-error", "position failed: no offset listed for %s [%d]", tp.Topic,
		tp.Partition)
}

// committed is the group's committed offsets (absent where there is none).
func (c *Consumer) committed(ctx context.Context, tps []TP) (map[TP]int64, *CErr) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if c.cfg.GroupID == nil {
		return nil, cerr("illegal-state", "committed needs a group id (the consumer has none)")
	}
	out := map[TP]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = c.cfg.group()
	for topic, ps := range groupedTPs(tps) {
		t := kmsg.NewOffsetFetchRequestTopic()
		t.Topic, t.Partitions = topic, ps
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, c.admin)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, &CErr{Code: "consumer-error", Msg: fmt.Sprintf("committed failed: %v", err),
			Retriable: kerr.IsRetriable(err)}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			perr := kerr.ErrorForCode(p.ErrorCode)
			if perr != nil && !errors.Is(perr, kerr.UnknownTopicOrPartition) {
				return nil, &CErr{Code: "consumer-error", Msg: fmt.Sprintf(
					"committed failed for %s [%d]: %v", t.Topic, p.Partition, perr),
					Retriable: kerr.IsRetriable(perr)}
			}
			if perr == nil && p.Offset >= 0 {
				out[TP{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}

func (c *Consumer) pause(tps []TP) *CErr {
	for _, tp := range tps {
		if err := c.requireOwned(tp, "pause"); err != nil {
			return err
		}
	}
	c.cl.PauseFetchPartitions(groupedTPs(tps))
	return nil
}

func (c *Consumer) resume(tps []TP) *CErr {
	for _, tp := range tps {
		if err := c.requireOwned(tp, "resume"); err != nil {
			return err
		}
	}
	c.cl.ResumeFetchPartitions(groupedTPs(tps))
	return nil
}

// close leaves the group (the listener's on_revoked runs, franz-go commits with auto commit)
// and closes the clients; called without the worker's mu.
func (c *Consumer) close() {
	if c.cl != nil {
		c.cl.AllowRebalance()
		c.cl.Close()
	}
	c.admin.Close()
}
