package io.github.kafkaconformance.worker;

import static io.github.kafkaconformance.worker.CallWatch.CALL_BOUND;
import static io.github.kafkaconformance.worker.CallWatch.CLOSE_BOUND;
import static io.github.kafkaconformance.worker.Wire.TP_ORDER;
import static io.github.kafkaconformance.worker.Wire.field;
import static io.github.kafkaconformance.worker.Wire.offsetsJson;
import static io.github.kafkaconformance.worker.Wire.partitions;
import static io.github.kafkaconformance.worker.Wire.rec;
import static io.github.kafkaconformance.worker.Wire.recs;
import static io.github.kafkaconformance.worker.Wire.tp;
import static io.github.kafkaconformance.worker.Wire.tps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.common.TopicPartition;

/**
 * Executes the protocol's commands against one KafkaConsumer and reports every event, with
 * the semantics of the Python reference worker (conformance/worker.py): per-strategy commits
 * of processed offsets, the rebalance listener, run/halt, and the same events in the same order.
 */
final class Worker {
    static final String ADAPTER = "java";
    static final String CLIENT = "kafka-clients";
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(20);

    private final String member;
    private final Out out;
    /** every call into the consumer is watched: one that never returns is reported */
    private final CallWatch watch;
    private KafkaConsumer<byte[], byte[]> consumer;
    private ClientConfig config;
    private Strategy strategy = new Strategy();
    private Strategy.Clock clock = new Strategy.Clock(strategy);
    private int maxRecords = 100;
    private final Set<TopicPartition> owned = new HashSet<>();
    /** uncommitted: last processed + 1 */
    private final Map<TopicPartition, Long> processedNext = new HashMap<>();
    private final Map<TopicPartition, Long> polledNext = new HashMap<>();
    /** the position after returned records or a seek: what a commit without offsets commits */
    private final Map<TopicPartition, Long> positions = new HashMap<>();
    private boolean running;
    private double pollTimeout = 0.1;
    private ExecutorService pool;
    private boolean done;
    /** async commits awaiting their callback (the interceptor reads it from other threads) */
    private final List<Pending> pendingAsync = new ArrayList<>();
    private volatile Map<TopicPartition, Long> syncInFlight;
    private final ArrayDeque<Runnable> deferred = new ArrayDeque<>();

    private static final class Pending {
        final String mode;
        final Map<TopicPartition, Long> offsets;
        boolean interceptorSeen;
        boolean reported;

        Pending(String mode, Map<TopicPartition, Long> offsets) {
            this.mode = mode;
            this.offsets = offsets;
        }
    }

    Worker(String member, Out out) {
        this.member = member;
        this.out = out;
        this.watch = new CallWatch(out);
    }

    /** One call into the consumer, under the watch (``call``: the Python worker's name). */
    private <T> T watched(String call, double bound, Supplier<T> body) {
        return watch.call(call, bound, body);
    }

    private void watched(String call, double bound, Runnable body) {
        watch.run(call, bound, body);
    }

    // -- output --------------------------------------------------------------------------------
    private void emit(ObjectNode event) {
        out.write(event);
    }

    // -- listener (inside poll/close/commit, on the consumer's thread) -------------------------
    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;  // cooperative and consumer-protocol rebalances that give nothing
            }
            owned.addAll(partitions);
            partitions.forEach(positions::remove);
            ObjectNode e = out.event("assigned");
            e.set("partitions", tps(partitions));
            emit(e);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            ObjectNode e = out.event("revoked");
            e.set("partitions", tps(partitions));
            emit(e);
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
            ObjectNode e = out.event("lost");
            e.set("partitions", tps(partitions));
            emit(e);
            forget(partitions);
        }
    }

    private void forget(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            owned.remove(tp);
            processedNext.remove(tp);
            polledNext.remove(tp);
            positions.remove(tp);
        }
    }

    // -- commits -------------------------------------------------------------------------------
    private static Map<TopicPartition, OffsetAndMetadata> toClient(Map<TopicPartition, Long> m) {
        Map<TopicPartition, OffsetAndMetadata> out = new LinkedHashMap<>();
        m.forEach((tp, o) -> out.put(tp, new OffsetAndMetadata(o)));
        return out;
    }

    private static Map<TopicPartition, Long> fromClient(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<TopicPartition, Long> out = new HashMap<>();
        m.forEach((tp, o) -> out.put(tp, o == null ? null : o.offset()));
        return out;
    }

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

    private void reportCommit(String mode, Map<TopicPartition, Long> offsets,
                              Errors.ConsumerError error) {
        ObjectNode e = out.event("committed");
        e.put("mode", mode);
        e.put("ok", error == null);
        e.set("offsets", offsetsJson(offsets));
        if (error == null) {
            e.putNull("error");
        } else {
            e.put("error", error.reported());
        }
        emit(e);
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
        emit(req);
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
                    reportCommit(mode, exc == null && result != null ? fromClient(result)
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
    void onClientCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<TopicPartition, Long> got = fromClient(offsets);
        Map<TopicPartition, Long> sync = syncInFlight;
        if (sync != null && sync.equals(got)) {
            return;
        }
        synchronized (pendingAsync) {
            for (Pending p : pendingAsync) {
                if (!p.interceptorSeen && p.offsets.equals(got)) {
                    p.interceptorSeen = true;
                    return;
                }
            }
        }
        reportCommit("auto", got, null);
    }

    private void commitProcessed(String mode) {
        Map<TopicPartition, Long> offsets = ownedProcessed();
        if (!offsets.isEmpty()) {
            commit(offsets, mode, strategy.asynchronous, false);
        }
    }

    private Map<TopicPartition, Long> ownedProcessed() {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        processedNext.forEach((tp, o) -> {
            if (owned.contains(tp)) {
                offsets.put(tp, o);
            }
        });
        return offsets;
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
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            polledNext.put(tp, r.offset() + 1);
            positions.put(tp, r.offset() + 1);
        }
        ArrayNode polled = recs(records);
        ObjectNode e = out.event("polled");
        e.set("records", polled);
        emit(e);
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
        ObjectNode e = out.event("processed");
        e.set("records", doneRecs);
        emit(e);
        return Out.JSON.createArrayNode();
    }

    /** S6: hand records to a thread pool and commit what was polled, not what finished. */
    private void processInPool(List<ConsumerRecord<byte[], byte[]>> records) {
        if (pool == null) {
            pool = Executors.newFixedThreadPool(4, r -> {
                Thread t = new Thread(r, "proc");
                t.setDaemon(true);
                return t;
            });
        }
        double span = Math.max(strategy.processMs, 1.0) * 4;
        for (ConsumerRecord<byte[], byte[]> r : records) {
            ArrayNode one = Out.JSON.createArrayNode().add(rec(r));
            pool.submit(() -> {
                Strategy.sleepMs(ThreadLocalRandom.current().nextDouble(0, span));
                ObjectNode e = out.event("processed");
                e.set("records", one);
                emit(e);
            });
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

    // -- commands ------------------------------------------------------------------------------
    private static void checkAdapter(JsonNode msg) {
        String name = msg.path("adapter").asText("");
        if (!name.equals(ADAPTER)) {
            throw new Errors.UsageError("unknown-adapter", "unknown client '" + name
                + "': this worker runs only '" + ADAPTER + "' (" + CLIENT + ")");
        }
    }

    private ObjectNode info(ObjectNode node) {
        node.put("adapter", ADAPTER);
        node.put("client", CLIENT);
        node.put("client_version", ClientConfig.VERSION);
        ObjectNode caps = ClientConfig.capabilities();
        caps.put("reports_calls", true);  // call_outstanding / call_returned (CallWatch)
        node.set("capabilities", caps);
        return node;
    }

    void handle(JsonNode msg) {
        JsonNode type = msg.get("type");
        String kind = type != null && type.isTextual() ? type.asText() : null;
        if (kind == null || !COMMANDS.contains(kind)) {
            throw new Errors.ProtocolError("unknown command type "
                + (kind == null ? String.valueOf(type) : "'" + kind + "'"));
        }
        if (!kind.equals("init") && !kind.equals("describe") && consumer == null) {
            throw new Errors.ProtocolError("the first command must be 'init'");
        }
        switch (kind) {
            case "describe": describe(msg); break;
            case "init": init(msg); break;
            case "subscribe": subscribe(msg); break;
            case "unsubscribe": unsubscribe(msg); break;
            case "assign": assign(msg); break;
            case "poll": poll(msg); break;
            case "run": run(msg); break;
            case "halt": running = false; out.write(out.reply(msg)); break;
            case "commit": commitCommand(msg); break;
            case "seek": seek(msg); break;
            case "seek_to_end": seekToEnd(msg); break;
            case "position": position(msg); break;
            case "committed": committed(msg); break;
            case "pause": pauseResume(msg, true); break;
            case "resume": pauseResume(msg, false); break;
            case "assignment": assignment(msg); break;
            case "close": close(msg); break;
            default: throw new Errors.ProtocolError("unknown command type '" + kind + "'");
        }
    }

    private static final Set<String> COMMANDS = Set.of("describe", "init", "subscribe",
        "unsubscribe", "assign", "poll", "run", "halt", "commit", "seek", "seek_to_end", "position", "committed", "pause", "resume",
        "assignment", "close");

    /** The client, its release and capabilities, and per config why it cannot run (null where
     *  it runs); no consumer is created. */
    private void describe(JsonNode msg) {
        checkAdapter(msg);
        ArrayNode reasons = Out.JSON.createArrayNode();
        JsonNode configs = msg.path("configs");
        if (configs.isArray()) {
            for (JsonNode raw : configs) {
                String reason = ClientConfig.fromJson(raw).unsupported();
                if (reason == null) {
                    reasons.addNull();
                } else {
                    reasons.add(reason);
                }
            }
        }
        ObjectNode reply = info(out.reply(msg));
        reply.set("unsupported", reasons);
        reply.set("variants", Out.JSON.createArrayNode());
        reply.putNull("python");
        reply.put("runtime", "java " + System.getProperty("java.version"));
        reply.put("executable", ProcessHandle.current().info().command().orElse("java"));
        out.write(reply);
    }

    private void init(JsonNode msg) {
        if (consumer != null) {
            throw new Errors.ProtocolError("init was already done");
        }
        checkAdapter(msg);
        ClientConfig cfg = ClientConfig.fromJson(msg.get("config") == null
            ? Out.JSON.createObjectNode() : msg.get("config"));
        Strategy s = Strategy.fromJson(msg.get("strategy"));
        if (s.autoCommit()) {
            cfg.enableAutoCommit = true;
        }
        strategy = s;
        clock = new Strategy.Clock(s);
        maxRecords = msg.path("max_records").asInt(cfg.maxPollRecords);
        String reason = cfg.unsupported();
        if (reason != null) {
            throw Errors.unsupported(reason);
        }
        config = cfg;
        AutoCommits.owner = this;
        try {
            consumer = new KafkaConsumer<>(cfg.properties(true));
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Errors.ConsumerError("consumer-error", "cannot create the consumer: "
                + e.getMessage() + (cause != e ? " (" + cause.getMessage() + ")" : ""), false);
        }
        ObjectNode ready = info(out.event("ready"));
        ready.put("pid", ProcessHandle.current().pid());
        emit(ready);
        ObjectNode reply = info(out.reply(msg));
        reply.put("pid", ProcessHandle.current().pid());
        out.write(reply);
    }

    private void subscribe(JsonNode msg) {
        List<String> topics = new ArrayList<>();
        for (JsonNode t : field(msg, "topics")) {
            topics.add(t.asText());
        }
        if (!config.hasGroup()) {
            throw new Errors.ConsumerError("illegal-state",
                "subscribe needs a group id (the consumer has none)", false);
        }
        watched("subscribe", CALL_BOUND, () -> consumer.subscribe(topics, new Listener()));
        out.write(out.reply(msg));
    }

    /** consumer.unsubscribe(): the listener hears the revoke (or loss) of the owned
     *  partitions inside the call (classic: onLeavePrepare; consumer protocol: the callback
     *  the background thread hands to this one), then the member leaves the group. */
    private void unsubscribe(JsonNode msg) {
        if (!config.hasGroup()) {
            throw new Errors.ConsumerError("illegal-state",
                "unsubscribe needs a group id (the consumer has none)", false);
        }
        watched("unsubscribe", CALL_BOUND, consumer::unsubscribe);
        emit(out.event("unsubscribed"));
        forget(new ArrayList<>(owned));  // nothing is owned now, whatever the listener heard
        out.write(out.reply(msg));
    }

    private void assign(JsonNode msg) {
        List<TopicPartition> parts = partitions(msg);
        watched("assign", CALL_BOUND, () -> consumer.assign(parts));
        owned.clear();
        owned.addAll(parts);
        positions.keySet().retainAll(owned);
        ObjectNode e = out.event("assigned");
        e.set("partitions", tps(parts));
        e.put("manual", true);
        emit(e);
        out.write(out.reply(msg));
    }

    private void poll(JsonNode msg) {
        List<ConsumerRecord<byte[], byte[]>> records = pollOnce(msg.path("timeout").asDouble(1.0),
            msg.path("max_records").asInt(maxRecords), msg.path("process").asBoolean(true));
        ObjectNode reply = out.reply(msg);
        reply.set("records", recs(records));
        out.write(reply);
    }

    private void run(JsonNode msg) {
        pollTimeout = msg.path("poll_timeout").asDouble(0.1);
        running = true;
        out.write(out.reply(msg));
    }

    private void commitCommand(JsonNode msg) {
        JsonNode raw = msg.get("offsets");
        Map<TopicPartition, Long> offsets = null;
        if (raw != null && !raw.isNull()) {
            offsets = new HashMap<>();
            for (JsonNode triple : raw) {
                if (!triple.isArray() || triple.size() < 3) {
                    throw new Errors.ProtocolError("an offset is [topic, partition, offset], not "
                        + triple);
                }
                offsets.put(tp(triple), triple.get(2).asLong());
            }
        } else if (msg.path("processed").asBoolean(false)) {
            offsets = ownedProcessed();
            if (offsets.isEmpty()) {  // nothing processed since the last assignment or seek
                ObjectNode reply = out.reply(msg);
                reply.set("offsets", Out.JSON.createArrayNode());
                out.write(reply);
                return;
            }
        }
        boolean asynchronous = msg.path("asynchronous").asBoolean(false);
        Map<TopicPartition, Long> result = commit(offsets, asynchronous ? "async" : "sync",
            asynchronous, true);
        ObjectNode reply = out.reply(msg);
        if (result == null) {
            reply.putNull("offsets");
        } else {
            reply.set("offsets", offsetsJson(result));
        }
        out.write(reply);
    }

    private void seek(JsonNode msg) {
        TopicPartition tp = new TopicPartition(field(msg, "topic").asText(),
            field(msg, "partition").asInt());
        long offset = field(msg, "offset").asLong();
        watched("seek", CALL_BOUND, () -> consumer.seek(tp, offset));
        positions.put(tp, offset);
        processedNext.remove(tp);
        ObjectNode e = out.event("seeked");
        e.put("topic", tp.topic());
        e.put("partition", tp.partition());
        e.put("offset", offset);
        emit(e);
        out.write(out.reply(msg));
    }

    /** consumer.seekToEnd(tp), which the client resolves lazily: the worker asks position()
     *  at once. The seeked event carries the harness's end (``end``) where it sent one. */
    private void seekToEnd(JsonNode msg) {
        TopicPartition tp = new TopicPartition(field(msg, "topic").asText(),
            field(msg, "partition").asInt());
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
        emit(e);
        out.write(out.reply(msg));
    }

    private void position(JsonNode msg) {
        TopicPartition tp = new TopicPartition(field(msg, "topic").asText(),
            field(msg, "partition").asInt());
        long offset = watched("position", CALL_BOUND, () -> consumer.position(tp));
        ObjectNode reply = out.reply(msg);
        reply.put("offset", offset);
        out.write(reply);
    }

    private void committed(JsonNode msg) {
        List<TopicPartition> parts = partitions(msg);
        if (!config.hasGroup()) {
            throw new Errors.ConsumerError("illegal-state",
                "committed needs a group id (the consumer has none)", false);
        }
        Map<TopicPartition, OffsetAndMetadata> got = parts.isEmpty() ? Map.of()
            : watched("committed", CALL_BOUND, () -> consumer.committed(new HashSet<>(parts)));
        TreeMap<TopicPartition, Long> sorted = new TreeMap<>(TP_ORDER);
        for (TopicPartition tp : parts) {
            OffsetAndMetadata o = got.get(tp);
            sorted.put(tp, o == null ? null : o.offset());
        }
        ArrayNode arr = Out.JSON.createArrayNode();
        sorted.forEach((tp, o) -> {
            ArrayNode row = arr.addArray().add(tp.topic()).add(tp.partition());
            if (o == null) {
                row.addNull();
            } else {
                row.add(o);
            }
        });
        ObjectNode reply = out.reply(msg);
        reply.set("offsets", arr);
        out.write(reply);
    }

    private void pauseResume(JsonNode msg, boolean pause) {
        List<TopicPartition> parts = partitions(msg);
        if (pause) {
            watched("pause", CALL_BOUND, () -> consumer.pause(parts));
        } else {
            watched("resume", CALL_BOUND, () -> consumer.resume(parts));
        }
        ObjectNode e = out.event(pause ? "paused" : "resumed");
        e.set("partitions", tps(parts));
        emit(e);
        out.write(out.reply(msg));
    }

    private void assignment(JsonNode msg) {
        ObjectNode reply = out.reply(msg);
        reply.set("partitions", tps(watched("assignment", CALL_BOUND, consumer::assignment)));
        out.write(reply);
    }

    private void close(JsonNode msg) {
        running = false;
        if (pool != null) {
            pool.shutdown();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
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
                reportCommit(p.mode, p.offsets, new Errors.ConsumerError("commit-failed",
                    "the consumer closed before the commit was acknowledged", true));
            }
            runDeferred();
        }
        emit(out.event("closed"));
        out.write(out.reply(msg));
        done = true;
    }

    // -- main loop -----------------------------------------------------------------------------
    void execute(Object item) {
        JsonNode msg = item instanceof JsonNode ? (JsonNode) item : null;
        try {
            if (msg == null || !msg.isObject()) {
                throw new Errors.ProtocolError("a command must be a JSON object with a 'type'");
            }
            handle(msg);
        } catch (Errors.ProtocolError e) {
            out.write(out.error(msg, "malformed-command", e.getMessage(), false, false));
        } catch (Errors.UsageError e) {
            out.write(out.error(msg, e.code, e.getMessage(), consumer == null, false));
        } catch (RuntimeException e) {
            String kind = msg.path("type").asText("command");
            Errors.ConsumerError err = Errors.normalize(e, kind + " failed");
            if (err != null) {
                out.write(out.error(msg, err.code, err.getMessage(), false, err.retriable));
            } else {
                e.printStackTrace(System.err);
                out.write(out.error(msg, "adapter-error", e.getClass().getSimpleName() + ": "
                    + e.getMessage(), false, false));
            }
        }
    }

    void serve(BlockingQueue<Object> commands) {
        while (!done) {
            Object item;
            try {
                item = running ? commands.poll() : commands.take();
            } catch (InterruptedException e) {
                return;
            }
            if (item != null) {
                if (item == Main.EOF) {
                    return;
                }
                execute(item);
                continue;
            }
            if (running) {
                try {
                    pollOnce(pollTimeout, maxRecords, true);
                } catch (RuntimeException e) {
                    Errors.ConsumerError err = Errors.normalize(e, "poll failed");
                    ObjectNode ev = out.event("error");
                    if (err != null) {
                        ev.put("code", err.code);
                        ev.put("message", err.getMessage());
                    } else {
                        e.printStackTrace(System.err);
                        ev.put("code", "adapter-error");
                        ev.put("message", e.getClass().getSimpleName() + ": " + e.getMessage());
                        running = false;
                    }
                    ev.put("fatal", false);
                    emit(ev);
                }
            }
        }
    }
}
