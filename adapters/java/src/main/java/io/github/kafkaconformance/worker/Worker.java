package io.github.kafkaconformance.worker;

import static io.github.kafkaconformance.worker.CallWatch.CALL_BOUND;
import static io.github.kafkaconformance.worker.CallWatch.CLOSE_BOUND;
import static io.github.kafkaconformance.worker.Wire.committedJson;
import static io.github.kafkaconformance.worker.Wire.offsetsJson;
import static io.github.kafkaconformance.worker.Wire.partitions;
import static io.github.kafkaconformance.worker.Wire.plain;
import static io.github.kafkaconformance.worker.Wire.toClient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.common.TopicPartition;

/**
 * The protocol's commands against one KafkaConsumer, with the semantics of the Python
 * reference worker (conformance/worker.py): per-strategy commits of processed offsets, the
 * rebalance listener, run/halt, and the same events in the same order. The command loop, the
 * commands' parsing and replies and the offsets tracked are {@link ProtocolWorker}'s.
 */
final class Worker extends ProtocolWorker {
    static final String ADAPTER = "java";
    static final String CLIENT = "kafka-clients";
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(20);

    private KafkaConsumer<byte[], byte[]> consumer;
    private Strategy.Clock clock = new Strategy.Clock(strategy);
    private int maxRecords = 100;
    private final Map<TopicPartition, Long> polledNext = new HashMap<>();
    private boolean running;
    private double pollTimeout = 0.1;
    /** async commits awaiting their callback (the interceptor reads it from other threads) */
    private final List<Pending> pendingAsync = new ArrayList<>();
    private volatile Map<TopicPartition, Long> syncInFlight;
    private final ArrayDeque<Runnable> deferred = new ArrayDeque<>();

    private static final class Pending extends Commit {
        boolean reported;

        Pending(String mode, Map<TopicPartition, Long> offsets) {
            super(mode, offsets);
        }
    }

    Worker(Out out) {
        super(out, CLIENT, ClientConfig.VERSION, ADAPTER);
        command("unsubscribe", this::unsubscribe);
        command("assign", this::assign);
        command("run", this::run);
        command("halt", this::halt);
        command("seek_to_end", this::seekToEnd);
    }

    // -- listener (inside poll/close/commit, on the consumer's thread) -------------------------
    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assigned(partitions);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            out.write(partitionsEvent("revoked", partitions));
            try {
                if (strategy.commitOnRevoke) {
                    Map<TopicPartition, Long> offsets = new HashMap<>();
                    processedNext.forEach((tp, o) -> {
                        if (partitions.contains(tp)) {
                            offsets.put(tp, o);
                        }
                    });
                    if (!offsets.isEmpty()) {
                        commit(offsets, "revoke", false, false);
                    }
                }
            } finally {
                forget(partitions);
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            out.write(partitionsEvent("lost", partitions));
            forget(partitions);
        }
    }

    @Override
    void forget(Collection<TopicPartition> partitions) {
        super.forget(partitions);
        for (TopicPartition tp : partitions) {
            polledNext.remove(tp);
        }
    }

    // -- commits -------------------------------------------------------------------------------
    /** The positions of the assigned partitions (a commit without offsets commits these). */
    private Map<TopicPartition, Long> consumedPositions() {
        Set<TopicPartition> assigned = watched("assignment", CALL_BOUND, consumer::assignment);
        Map<TopicPartition, Long> out = new HashMap<>();
        positions.forEach((tp, o) -> {
            if (assigned.contains(tp)) {
                out.put(tp, o);
            }
        });
        return out;
    }

    /** Commit ``offsets`` (null: the consumed positions) as _commit in conformance/worker.py:
     *  commit_requested first, then committed once the outcome is known. */
    private Map<TopicPartition, Long> commit(Map<TopicPartition, Long> offsets, String mode,
                                             boolean asynchronous, boolean reraise) {
        ObjectNode req = out.event("commit_requested");
        req.put("mode", mode);
        if (offsets == null) {
            req.putNull("offsets");
            try {  // what this commit without offsets writes: the consumed positions
                req.set("tracked", offsetsJson(consumedPositions()));
            } catch (RuntimeException e) {
                // the commit below meets the same error and reports it
            }
        } else {
            req.set("offsets", offsetsJson(offsets));
        }
        out.write(req);
        Map<TopicPartition, Long> wanted;
        try {
            wanted = offsets != null ? offsets : consumedPositions();
        } catch (RuntimeException e) {
            Errors.ConsumerError err = Errors.commitError(e);
            reportCommit(mode, Map.of(), err);
            if (reraise) {
                throw err;
            }
            return null;
        }
        if (asynchronous) {
            if (wanted.isEmpty()) {
                deferred.add(() -> reportCommit(mode, Map.of(), null));
            } else {
                Pending pending = new Pending(mode, wanted);
                synchronized (pendingAsync) {
                    pendingAsync.add(pending);
                }
                OffsetCommitCallback callback = (result, exc) -> {
                    synchronized (pendingAsync) {
                        pendingAsync.remove(pending);
                        if (pending.reported) {
                            return;
                        }
                        pending.reported = true;
                    }
                    reportCommit(mode, exc == null && result != null ? plain(result)
                        : wanted, exc == null ? null : Errors.commitError(exc));
                };
                try {
                    watched("commit", CALL_BOUND,
                        () -> consumer.commitAsync(toClient(wanted), callback));
                } catch (RuntimeException e) {
                    synchronized (pendingAsync) {
                        pendingAsync.remove(pending);
                    }
                    Errors.ConsumerError err = Errors.commitError(e);
                    reportCommit(mode, wanted, err);
                    if (reraise) {
                        throw err;
                    }
                }
            }
            clock.committed();
            return null;
        }
        if (!wanted.isEmpty()) {
            syncInFlight = wanted;
            try {
                watched("commit", CALL_BOUND, () -> consumer.commitSync(toClient(wanted)));
            } catch (RuntimeException e) {
                Errors.ConsumerError err = Errors.commitError(e);
                reportCommit(mode, wanted, err);
                if (reraise) {
                    throw err;
                }
                return null;
            } finally {
                syncInFlight = null;
            }
        }
        reportCommit(mode, wanted, null);
        clock.committed();
        return wanted;
    }

    /** The interceptor saw a successful commit (any thread): report it as ``auto`` unless it
     *  is one of the worker's own commits. */
    @Override
    void onClientCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<TopicPartition, Long> got = plain(offsets);
        Map<TopicPartition, Long> sync = syncInFlight;
        if ((sync == null || !sync.equals(got)) && !ownCommit(pendingAsync, got)) {
            reportCommit("auto", got, null);
        }
    }

    private void commitProcessed(String mode) {
        Map<TopicPartition, Long> offsets = ownedProcessed();
        if (!offsets.isEmpty()) {
            commit(offsets, mode, strategy.asynchronous, false);
        }
    }

    private void runDeferred() {
        while (!deferred.isEmpty()) {
            deferred.poll().run();
        }
    }

    // -- the poll loop -------------------------------------------------------------------------
    List<ConsumerRecord<byte[], byte[]>> pollOnce(double timeout, int max, boolean process) {
        runDeferred();
        if (process && clock.beforePoll()) {
            commitProcessed("manual");
        }
        Duration pollFor = Duration.ofNanos((long) (Math.max(0.0, timeout) * 1e9));
        ConsumerRecords<byte[], byte[]> got =
            watched("poll", CallWatch.pollBound(timeout), () -> consumer.poll(pollFor));
        runDeferred();
        int limit = Math.max(1, Math.min(max, config.maxPollRecords));
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>(got.count());
        for (TopicPartition tp : got.partitions()) {
            for (ConsumerRecord<byte[], byte[]> r : got.records(tp)) {
                if (records.size() >= limit) {
                    // more than this poll may return: read the rest again by the next poll
                    watched("seek", CALL_BOUND, () -> consumer.seek(tp, r.offset()));
                    break;
                }
                records.add(r);
            }
        }
        if (records.isEmpty()) {
            return records;
        }
        for (ConsumerRecord<byte[], byte[]> r : records) {
            polledNext.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
        }
        ArrayNode polled = polled(records);
        if (process) {
            if (strategy.processing.equals("pool")) {
                processInPool(records);
            } else {
                processInLoop(records, polled);
            }
        }
        return records;
    }

    /** Process records one by one; each is reported as ``processed`` as soon as its work is
     *  done (with simulated work), so a crash mid-batch leaves an exact trace. */
    private void processInLoop(List<ConsumerRecord<byte[], byte[]>> records, ArrayNode polled) {
        boolean work = strategy.processMs > 0;
        ArrayNode doneRecs = Out.JSON.createArrayNode();
        for (int i = 0; i < records.size(); i++) {
            ConsumerRecord<byte[], byte[]> r = records.get(i);
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            if (!owned.contains(tp)) {
                continue;  // revoked while this batch was in hand: not ours to process
            }
            if (work) {
                Strategy.sleepMs(strategy.processMs);
            }
            doneRecs.add(polled.get(i));
            processedNext.put(tp, r.offset() + 1);
            boolean commitNow = clock.afterRecord();
            if (work || commitNow) {
                doneRecs = flushProcessed(doneRecs);
            }
            if (commitNow) {
                commitProcessed(strategy.name.toLowerCase());
            }
        }
        flushProcessed(doneRecs);
        if (clock.afterBatch()) {
            commitProcessed("batch");
        }
    }

    private ArrayNode flushProcessed(ArrayNode doneRecs) {
        if (doneRecs.isEmpty()) {
            return doneRecs;
        }
        processed(doneRecs);
        return Out.JSON.createArrayNode();
    }

    /** S6: hand records to a thread pool and commit what was polled, not what finished. */
    private void processInPool(List<ConsumerRecord<byte[], byte[]>> records) {
        for (ConsumerRecord<byte[], byte[]> r : records) {
            handOff(r);
        }
        Map<TopicPartition, Long> offsets = new HashMap<>();
        polledNext.forEach((tp, o) -> {
            if (owned.contains(tp)) {
                offsets.put(tp, o);
            }
        });
        if (!offsets.isEmpty() && !strategy.autoCommit()) {
            commit(offsets, "batch", strategy.asynchronous, false);
        }
    }

    @Override
    protected boolean pollsBetweenCommands() {
        return running;
    }

    @Override
    protected void pollBetweenCommands() {
        pollOnce(pollTimeout, maxRecords, true);
    }

    @Override
    protected void endRunMode() {
        running = false;
    }

    // -- commands ------------------------------------------------------------------------------
    @Override
    protected void start(String adapter, JsonNode msg) {
        clock = new Strategy.Clock(strategy);
        maxRecords = msg.path("max_records").asInt(config.maxPollRecords);
        try {
            consumer = new KafkaConsumer<>(config.properties(true));
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Errors.ConsumerError("consumer-error", "cannot create the consumer: "
                + e.getMessage() + (cause != e ? " (" + cause.getMessage() + ")" : ""), false);
        }
    }

    @Override
    protected void subscribe(List<String> topics) {
        watched("subscribe", CALL_BOUND, () -> consumer.subscribe(topics, new Listener()));
    }

    /** consumer.unsubscribe(): the listener hears the revoke (or loss) of the owned
     *  partitions inside the call (classic: onLeavePrepare; consumer protocol: the callback
     *  the background thread hands to this one), then the member leaves the group. */
    private void unsubscribe(JsonNode msg) {
        requireGroup("unsubscribe");
        watched("unsubscribe", CALL_BOUND, consumer::unsubscribe);
        out.write(out.event("unsubscribed"));
        forget(new ArrayList<>(owned));  // nothing is owned now, whatever the listener heard
        out.write(out.reply(msg));
    }

    private void assign(JsonNode msg) {
        List<TopicPartition> parts = partitions(msg);
        watched("assign", CALL_BOUND, () -> consumer.assign(parts));
        owned.clear();
        owned.addAll(parts);
        positions.keySet().retainAll(owned);
        ObjectNode e = partitionsEvent("assigned", parts);
        e.put("manual", true);
        out.write(e);
        out.write(out.reply(msg));
    }

    @Override
    protected List<ConsumerRecord<byte[], byte[]>> poll(JsonNode msg) {
        return pollOnce(msg.path("timeout").asDouble(1.0),
            msg.path("max_records").asInt(maxRecords), msg.path("process").asBoolean(true));
    }

    private void run(JsonNode msg) {
        pollTimeout = msg.path("poll_timeout").asDouble(0.1);
        running = true;
        out.write(out.reply(msg));
    }

    private void halt(JsonNode msg) {
        running = false;
        out.write(out.reply(msg));
    }

    @Override
    protected Map<TopicPartition, Long> commitOffsets(Map<TopicPartition, Long> offsets,
                                                      boolean asynchronous) {
        return commit(offsets, asynchronous ? "async" : "sync", asynchronous, true);
    }

    @Override
    protected void seek(TopicPartition tp, long offset) {
        watched("seek", CALL_BOUND, () -> consumer.seek(tp, offset));
    }

    /** consumer.seekToEnd(tp), which the client resolves lazily: the worker asks position()
     *  at once. The seeked event carries the harness's end (``end``) where it sent one. */
    private void seekToEnd(JsonNode msg) {
        TopicPartition tp = topicPartition(msg);
        watched("seek_to_end", CALL_BOUND, () -> consumer.seekToEnd(List.of(tp)));
        long position = watched("position", CALL_BOUND, () -> consumer.position(tp));
        positions.put(tp, position);
        processedNext.remove(tp);
        ObjectNode e = out.event("seeked");
        e.put("topic", tp.topic());
        e.put("partition", tp.partition());
        JsonNode end = msg.get("end");
        e.put("offset", end != null && !end.isNull() ? end.asLong() : position);
        e.put("to", "end");
        out.write(e);
        out.write(out.reply(msg));
    }

    @Override
    protected long position(TopicPartition tp) {
        return watched("position", CALL_BOUND, () -> consumer.position(tp));
    }

    @Override
    protected ArrayNode committed(List<TopicPartition> partitions) {
        requireGroup("committed");
        Set<TopicPartition> wanted = new HashSet<>(partitions);
        Map<TopicPartition, OffsetAndMetadata> got = wanted.isEmpty() ? Map.of()
            : watched("committed", CALL_BOUND, () -> consumer.committed(wanted));
        return committedJson(wanted, got);
    }

    @Override
    protected void pauseResume(List<TopicPartition> partitions, boolean pause) {
        if (pause) {
            watched("pause", CALL_BOUND, () -> consumer.pause(partitions));
        } else {
            watched("resume", CALL_BOUND, () -> consumer.resume(partitions));
        }
    }

    @Override
    protected Collection<TopicPartition> assignment() {
        return watched("assignment", CALL_BOUND, consumer::assignment);
    }

    @Override
    protected void close(JsonNode msg) {
        running = false;
        shutdownPool();
        if (msg.path("commit").asBoolean(false)) {
            commitProcessed("close");
        }
        runDeferred();
        try {
            // revokes (listener), commits if auto, leaves
            watched("close", CLOSE_BOUND, () -> consumer.close(CLOSE_TIMEOUT));
        } finally {
            List<Pending> left;
            synchronized (pendingAsync) {
                left = new ArrayList<>();
                for (Pending p : pendingAsync) {
                    if (!p.reported) {
                        p.reported = true;
                        left.add(p);
                    }
                }
                pendingAsync.clear();
            }
            for (Pending p : left) {
                reportUnacknowledged(p.mode, p.offsets);
            }
            runDeferred();
        }
    }
}
