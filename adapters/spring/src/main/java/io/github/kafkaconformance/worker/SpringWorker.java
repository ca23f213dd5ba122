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
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.listener.AcknowledgingConsumerAwareMessageListener;
import org.springframework.kafka.listener.BatchAcknowledgingConsumerAwareMessageListener;
import org.springframework.kafka.listener.ConcurrentMessageListenerContainer;
import org.springframework.kafka.listener.ConsumerAwareRebalanceListener;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.KafkaMessageListenerContainer;

/**
 * The worker protocol on Spring for Apache Kafka: a real ConcurrentMessageListenerContainer
 * drives its own poll loop with the strategy's AckMode; this class reports what happens (the
 * listener's {@code processed}, the rebalance listener's {@code assigned}/{@code revoked}/
 * {@code lost}, Spring's commits seen by {@link GatedConsumer} and its commit callback) and
 * serves the commands that fit a container (docs/spring-kafka-worker.md).
 */
final class SpringWorker {
    static final String ADAPTER = "spring-kafka";
    static final String BATCH_VARIANT = "spring-kafka:batch";
    static final String CLIENT = "spring-kafka";
    static final String VERSION = String.valueOf(
        KafkaMessageListenerContainer.class.getPackage().getImplementationVersion());
    private static final double TASK_TIMEOUT = 25.0;
    /** Set on the consumer thread while the interceptor must not report a commit as auto. */
    static final ThreadLocal<Boolean> SYNC_IN_FLIGHT = new ThreadLocal<>();
    /** The commit mode inside the rebalance listener (revoke, assign), else null. */
    private static final ThreadLocal<String> CONTEXT = new ThreadLocal<>();
    private static final ThreadLocal<Boolean> LOSING = new ThreadLocal<>();
    static volatile SpringWorker current;

    private final Out out;
    /** every call into Spring or the consumer is watched: one that never returns is reported */
    private final CallWatch watch;
    private ClientConfig config;
    private Strategy strategy = new Strategy();
    private String adapter = ADAPTER;
    private Properties props;
    private ConcurrentMessageListenerContainer<byte[], byte[]> container;
    private final List<GatedConsumer> gates = new CopyOnWriteArrayList<>();
    private volatile boolean running;
    private volatile boolean stopping;
    private boolean initialized;
    private boolean done;
    private ExecutorService pool;
    private final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
    private final Map<TopicPartition, Long> processedNext = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();
    private final List<Pending> pendingAsync = new ArrayList<>();

    /** A commit that was requested: its mode and offsets (async: until its callback). */
    static final class Pending {
        final String mode;
        final Map<TopicPartition, Long> offsets;
        final boolean explicit;
        boolean interceptorSeen;

        Pending(String mode, Map<TopicPartition, Long> offsets, boolean explicit) {
            this.mode = mode;
            this.offsets = offsets;
            this.explicit = explicit;
        }
    }

    SpringWorker(Out out) {
        this.out = out;
        this.watch = new CallWatch(out);
    }

    /** One call into Spring or the consumer, under the watch (``call``: the Python worker's
     *  name). Any thread: the command thread and the container's consumer threads (their polls,
     *  Spring's commits); the events go through ``out``, which writes whole lines under a lock. */
    <T> T watched(String call, double bound, Supplier<T> body) {
        return watch.call(call, bound, body);
    }

    void watched(String call, double bound, Runnable body) {
        watch.run(call, bound, body);
    }

    boolean running() {
        return running;
    }

    boolean stopping() {
        return stopping;
    }

    void register(GatedConsumer gate) {
        gates.add(gate);
    }

    void unregister(GatedConsumer gate) {
        gates.remove(gate);
    }

    // -- JSON ------------------------------------------------------------------------------------
    private static TopicPartition tpOf(ConsumerRecord<?, ?> r) {
        return new TopicPartition(r.topic(), r.partition());
    }

    // -- events from the container -----------------------------------------------------------
    void polled(List<ConsumerRecord<byte[], byte[]>> records) {
        for (ConsumerRecord<byte[], byte[]> r : records) {
            positions.put(tpOf(r), r.offset() + 1);
        }
        ObjectNode e = out.event("polled");
        e.set("records", recs(records));
        out.write(e);
    }

    private String ackModeName() {
        return strategy.name.toLowerCase();
    }

    /** A commit Spring is about to make: ``commit_requested`` with its mode. */
    Pending requested(Map<TopicPartition, OffsetAndMetadata> offsets, boolean async) {
        String ctx = CONTEXT.get();
        String mode = ctx != null ? ctx : stopping ? "close" : ackModeName();
        Pending p = new Pending(mode, GatedConsumer.plain(offsets), false);
        ObjectNode req = out.event("commit_requested");
        req.put("mode", mode);
        req.set("offsets", offsetsJson(p.offsets));
        out.write(req);
        if (async) {
            synchronized (pendingAsync) {
                pendingAsync.add(p);
            }
        }
        return p;
    }

    void asyncFailedAtOnce(Pending p, RuntimeException e) {
        synchronized (pendingAsync) {
            pendingAsync.remove(p);
        }
        reportCommit(p.mode, p.offsets, Errors.commitError(e));
    }

    void reportCommit(String mode, Map<TopicPartition, Long> offsets, Errors.ConsumerError err) {
        ObjectNode e = out.event("committed");
        e.put("mode", mode);
        e.put("ok", err == null);
        e.set("offsets", offsetsJson(offsets));
        if (err == null) {
            e.putNull("error");
        } else {
            e.put("error", err.reported());
        }
        out.write(e);
    }

    /** Spring's commit callback (ContainerProperties.setCommitCallback): async outcomes. */
    private void onCommitCallback(Map<TopicPartition, OffsetAndMetadata> offsets, Exception exc) {
        Map<TopicPartition, Long> got = offsets == null ? Map.of() : GatedConsumer.plain(offsets);
        Pending match = null;
        synchronized (pendingAsync) {
            for (Pending p : pendingAsync) {
                if (!p.explicit && p.offsets.equals(got)) {
                    match = p;
                    break;
                }
            }
            if (match == null) {
                for (Pending p : pendingAsync) {
                    if (!p.explicit) {
                        match = p;
                        break;
                    }
                }
            }
            if (match != null) {
                pendingAsync.remove(match);
            }
        }
        String mode = match != null ? match.mode : ackModeName();
        reportCommit(mode, match != null && got.isEmpty() ? match.offsets : got,
            exc == null ? null : Errors.commitError(exc));
    }

    /** The interceptor saw a successful commit: ``auto`` unless it is one the worker saw. */
    void onClientCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        if (SYNC_IN_FLIGHT.get() != null) {
            return;
        }
        Map<TopicPartition, Long> got = GatedConsumer.plain(offsets);
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

    /** Around Spring's own rebalance listener: ``assigned`` before Spring commits the
     *  initial position; commits inside it have mode ``assign``/``revoke``. */
    ConsumerRebalanceListener wrapListener(ConsumerRebalanceListener spring) {
        return new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) {
                    owned.addAll(partitions);
                    partitions.forEach(positions::remove);
                    ObjectNode e = out.event("assigned");
                    e.set("partitions", tps(partitions));
                    out.write(e);
                }
                CONTEXT.set("assign");
                try {
                    spring.onPartitionsAssigned(partitions);
                } finally {
                    CONTEXT.remove();
                }
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                CONTEXT.set("revoke");
                try {
                    spring.onPartitionsRevoked(partitions);
                } finally {
                    CONTEXT.remove();
                }
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                CONTEXT.set("revoke");
                try {
                    spring.onPartitionsLost(partitions);
                } finally {
                    CONTEXT.remove();
                    LOSING.remove();
                }
            }
        };
    }

    /** The container's ConsumerAwareRebalanceListener: ``revoked`` before Spring commits the
     *  pending acks, ``lost``; the partitions are forgotten after the commit. */
    private final class Rebalance implements ConsumerAwareRebalanceListener {
        @Override
        public void onPartitionsRevokedBeforeCommit(Consumer<?, ?> consumer,
                                                    Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty() && LOSING.get() == null) {
                ObjectNode e = out.event("revoked");
                e.set("partitions", tps(partitions));
                out.write(e);
            }
        }

        @Override
        public void onPartitionsRevokedAfterCommit(Consumer<?, ?> consumer,
                                                   Collection<TopicPartition> partitions) {
            forget(partitions);
        }

        @Override
        public void onPartitionsLost(Consumer<?, ?> consumer,
                                     Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty()) {
                LOSING.set(Boolean.TRUE);  // Spring goes on with its revoke path: no revoked
                ObjectNode e = out.event("lost");
                e.set("partitions", tps(partitions));
                out.write(e);
            }
        }

        @Override
        public void onPartitionsAssigned(Consumer<?, ?> consumer,
                                         Collection<TopicPartition> partitions) {
            // reported by wrapListener, before Spring's commit of the initial position
        }
    }

    private void forget(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            owned.remove(tp);
            processedNext.remove(tp);
            positions.remove(tp);
        }
    }

    // -- the listeners -------------------------------------------------------------------------
    private void process(ConsumerRecord<byte[], byte[]> r) {
        if (strategy.processMs > 0) {
            Strategy.sleepMs(strategy.processMs);
        }
        ObjectNode e = out.event("processed");
        e.set("records", Out.JSON.createArrayNode().add(rec(r)));
        out.write(e);
        processedNext.put(tpOf(r), r.offset() + 1);
    }

    /** S6's pool model: a thread pool processes, the listener returns at once, so Spring
     *  commits what was delivered, not what finished. */
    private void handOff(ConsumerRecord<byte[], byte[]> r) {
        synchronized (this) {
            if (pool == null) {
                pool = Executors.newFixedThreadPool(4, t -> {
                    Thread th = new Thread(t, "proc");
                    th.setDaemon(true);
                    return th;
                });
            }
        }
        double span = Math.max(strategy.processMs, 1.0) * 4;
        ArrayNode one = Out.JSON.createArrayNode().add(rec(r));
        pool.submit(() -> {
            Strategy.sleepMs(ThreadLocalRandom.current().nextDouble(0, span));
            ObjectNode e = out.event("processed");
            e.set("records", one);
            out.write(e);
        });
    }

    private Object listener() {
        boolean poolModel = strategy.processing.equals("pool");
        if (adapter.equals(BATCH_VARIANT)) {
            return (BatchAcknowledgingConsumerAwareMessageListener<byte[], byte[]>)
                (records, ack, consumer) -> {
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        if (poolModel) {
                            handOff(r);
                        } else {
                            process(r);
                        }
                    }
                    if (ack != null) {
                        ack.acknowledge();
                    }
                };
        }
        return (AcknowledgingConsumerAwareMessageListener<byte[], byte[]>) (r, ack, consumer) -> {
            if (poolModel) {
                handOff(r);
            } else {
                process(r);
            }
            if (ack != null) {
                ack.acknowledge();
            }
        };
    }

    // -- commands ------------------------------------------------------------------------------
    private static String checkAdapter(JsonNode msg) {
        String name = msg.path("adapter").asText("");
        if (!name.equals(ADAPTER) && !name.equals(BATCH_VARIANT)) {
            throw new Errors.UsageError("unknown-adapter", "unknown client '" + name
                + "': this worker runs only '" + ADAPTER + "' and '" + BATCH_VARIANT + "' ("
                + CLIENT + ")");
        }
        return name;
    }

    private ObjectNode info(ObjectNode node, String name) {
        node.put("adapter", name);
        node.put("client", CLIENT);
        node.put("client_version", VERSION);
        ObjectNode caps = ClientConfig.capabilities();
        caps.put("manual_assignment", false);
        caps.put("offset_reset_none", false);
        caps.put("unsubscribe", false);  // the container owns the subscription
        caps.put("seek_to_end", false);  // seeks go through the container (ConsumerSeekAware)
        caps.put("reports_calls", true);  // call_outstanding / call_returned (CallWatch)
        node.set("capabilities", caps);
        return node;
    }

    /** Why this worker cannot run ``cfg`` (null: it can). */
    static String unsupported(ClientConfig cfg) {
        String reason = cfg.unsupported();
        if (reason != null) {
            return reason;
        }
        if (cfg.autoOffsetReset.equals("none")) {
            return "auto_offset_reset=none: the container commits the initial position of a "
                + "partition without a committed offset (AssignmentCommitOption), and a "
                + "NoOffsetForPartitionException there stops the container as a fatal error "
                + "rather than reaching the application";
        }
        return null;
    }

    private static final Set<String> COMMANDS = Set.of("describe", "init", "subscribe", "assign",
        "poll", "run", "halt", "commit", "seek", "position", "committed", "pause", "resume",
        "assignment", "close");

    void handle(JsonNode msg) {
        JsonNode type = msg.get("type");
        String kind = type != null && type.isTextual() ? type.asText() : null;
        if (kind == null || !COMMANDS.contains(kind)) {
            throw new Errors.ProtocolError("unknown command type "
                + (kind == null ? String.valueOf(type) : "'" + kind + "'"));
        }
        if (!kind.equals("init") && !kind.equals("describe") && !initialized) {
            throw new Errors.ProtocolError("the first command must be 'init'");
        }
        switch (kind) {
            case "describe": describe(msg); break;
            case "init": init(msg); break;
            case "subscribe": subscribe(msg); break;
            case "assign":
                throw Errors.unsupported("assign: a listener container subscribes (manual "
                    + "assignment would be a container of TopicPartitionOffsets, fixed at start)");
            case "poll": poll(msg); break;
            case "run": run(msg); break;
            case "halt": halt(msg); break;
            case "commit": commitCommand(msg); break;
            case "seek": seek(msg); break;
            case "position": position(msg); break;
            case "committed": committed(msg); break;
            case "pause": pauseResume(msg, true); break;
            case "resume": pauseResume(msg, false); break;
            case "assignment": assignment(msg); break;
            case "close": close(msg); break;
            default: throw new Errors.ProtocolError("unknown command type '" + kind + "'");
        }
    }

    private void describe(JsonNode msg) {
        String name = checkAdapter(msg);
        ArrayNode reasons = Out.JSON.createArrayNode();
        JsonNode configs = msg.path("configs");
        if (configs.isArray()) {
            for (JsonNode raw : configs) {
                String reason = unsupported(ClientConfig.fromJson(raw));
                if (reason == null) {
                    reasons.addNull();
                } else {
                    reasons.add(reason);
                }
            }
        }
        ObjectNode reply = info(out.reply(msg), name);
        reply.set("unsupported", reasons);
        // spring-kafka:batch is not listed as a variant: generated runs pick variants per
        // member whatever the strategy, and Spring refuses AckMode.RECORD with a batch listener
        reply.set("variants", Out.JSON.createArrayNode());
        reply.putNull("python");
        reply.put("runtime", "java " + System.getProperty("java.version") + ", kafka-clients "
            + ClientConfig.VERSION);
        reply.put("executable", ProcessHandle.current().info().command().orElse("java"));
        out.write(reply);
    }

    private void init(JsonNode msg) {
        if (initialized) {
            throw new Errors.ProtocolError("init was already done");
        }
        String name = checkAdapter(msg);
        ClientConfig cfg = ClientConfig.fromJson(msg.get("config") == null
            ? Out.JSON.createObjectNode() : msg.get("config"));
        Strategy s = Strategy.fromJson(msg.get("strategy"));
        if (s.autoCommit()) {
            cfg.enableAutoCommit = true;
        }
        String reason = unsupported(cfg);
        if (reason == null && name.equals(BATCH_VARIANT) && s.name.equals("RECORD")) {
            reason = "AckMode.RECORD with a batch listener: Spring refuses it (\"Cannot use "
                + "AckMode.RECORD with a batch listener\")";
        }
        if (reason != null) {
            throw Errors.unsupported(reason);
        }
        adapter = name;
        strategy = s;
        config = cfg;
        props = cfg.properties(false);
        if (s.autoCommit()) {
            props.put("interceptor.classes", SpringAutoCommits.class.getName());
        }
        current = this;
        initialized = true;
        ObjectNode ready = info(out.event("ready"), name);
        ready.put("pid", ProcessHandle.current().pid());
        out.write(ready);
        ObjectNode reply = info(out.reply(msg), name);
        reply.put("pid", ProcessHandle.current().pid());
        out.write(reply);
    }

    private Map<String, Object> factoryConfig() {
        Map<String, Object> cfg = new HashMap<>();
        props.forEach((k, v) -> cfg.put(String.valueOf(k), v));
        return cfg;
    }

    /** The ``per-partition`` model: one container consumer per partition of the topics. */
    private int partitionCount(List<String> topics) {
        Map<String, Object> cfg = factoryConfig();
        cfg.remove("group.id");
        cfg.remove("interceptor.classes");
        cfg.put("enable.auto.commit", "false");
        int count = 0;
        KafkaConsumer<byte[], byte[]> probe = new KafkaConsumer<>(cfg);
        try {
            for (String topic : topics) {
                List<PartitionInfo> parts = watched("partitions_for", CALL_BOUND,
                    () -> probe.partitionsFor(topic));
                count += parts == null ? 0 : parts.size();
            }
        } finally {
            watched("close", CLOSE_BOUND, () -> probe.close());
        }
        return Math.max(1, count);
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
        if (container != null) {
            throw Errors.unsupported("subscribe again: the container's topics are fixed once it "
                + "started");
        }
        int concurrency = strategy.processing.equals("per-partition") ? partitionCount(topics) : 1;
        DefaultKafkaConsumerFactory<byte[], byte[]> factory =
            new DefaultKafkaConsumerFactory<>(factoryConfig());
        factory.addPostProcessor(c -> GatedConsumer.wrap(c, this));
        ContainerProperties cp = new ContainerProperties(topics.toArray(new String[0]));
        cp.setMessageListener(listener());
        cp.setConsumerRebalanceListener(new Rebalance());
        cp.setCommitCallback(this::onCommitCallback);
        if (!strategy.autoCommit()) {
            cp.setAckMode(ContainerProperties.AckMode.valueOf(strategy.name));
            cp.setAckCount((int) Math.max(1, strategy.count));
            cp.setAckTime(Math.max(1, strategy.intervalMs));
        }
        cp.setSyncCommits(!strategy.asynchronous);
        cp.setPollTimeout(100);
        cp.setShutdownTimeout(20000);
        cp.setClientId(config.clientId == null ? "spring" : config.clientId);
        container = new ConcurrentMessageListenerContainer<>(factory, cp);
        container.setConcurrency(concurrency);
        container.setBeanName(config.clientId == null ? "spring" : config.clientId);
        watched("subscribe", CALL_BOUND, container::start);
        out.write(out.reply(msg));
    }

    private GatedConsumer gate() {
        if (container == null) {
            throw new Errors.ConsumerError("illegal-state",
                "not subscribed: the container starts with 'subscribe'", false);
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (gates.isEmpty() && System.nanoTime() < deadline) {
            Strategy.sleepMs(10);
        }
        if (gates.isEmpty()) {
            throw new Errors.ConsumerError("illegal-state", "the container has no running "
                + "consumer", false);
        }
        return gates.get(0);
    }

    /** ``fn`` on ``g``'s consumer thread, watched there as ``call``. */
    private <T> T onThread(GatedConsumer g, String call, Function<Consumer<byte[], byte[]>, T> fn) {
        return g.call(() -> watched(call, CALL_BOUND, () -> fn.apply(g.delegate)), TASK_TIMEOUT);
    }

    /** ``fn`` on every container consumer's thread; the results in order. */
    private <T> List<T> onConsumers(String call, Function<Consumer<byte[], byte[]>, T> fn) {
        gate();
        List<T> results = new ArrayList<>();
        for (GatedConsumer g : gates) {
            results.add(onThread(g, call, fn));
        }
        return results;
    }

    /** ``fn`` on the thread of the consumer that owns ``tp`` (the first one if none does). */
    private <T> T onOwner(TopicPartition tp, String call,
                          Function<Consumer<byte[], byte[]>, T> fn) {
        GatedConsumer first = gate();
        if (gates.size() > 1) {
            for (GatedConsumer g : gates) {
                if (onThread(g, "assignment", c -> c.assignment().contains(tp))) {
                    return onThread(g, call, fn);
                }
            }
        }
        return onThread(first, call, fn);
    }

    private void poll(JsonNode msg) {
        if (running) {
            throw new Errors.ConsumerError("illegal-state", "poll while running: the container "
                + "polls by itself until 'halt'", false);
        }
        GatedConsumer g = gate();
        if (gates.size() > 1) {
            throw Errors.unsupported("poll with " + gates.size() + " container consumers "
                + "(per-partition concurrency): step mode drives a single consumer; use run");
        }
        double timeout = msg.path("timeout").asDouble(1.0);
        GatedConsumer.Permit p = new GatedConsumer.Permit(timeout, msg.path("process")
            .asBoolean(true));
        g.permit(p);
        // waits on while its KafkaConsumer.poll is outstanding: past its bound the watch
        // reports it, and the harness gives up on the reply
        List<ConsumerRecord<byte[], byte[]>> records = GatedConsumer.await(p.done,
            () -> p.polling, timeout + 60, "the container did not finish the poll");
        ObjectNode reply = out.reply(msg);
        reply.set("records", recs(records));
        out.write(reply);
    }

    private void run(JsonNode msg) {
        if (container == null) {
            throw new Errors.ConsumerError("illegal-state",
                "not subscribed: the container starts with 'subscribe'", false);
        }
        running = true;
        gates.forEach(GatedConsumer::nudge);
        out.write(out.reply(msg));
    }

    /** Stop the loop: the reply comes once every consumer waits at its gate. */
    private void halt(JsonNode msg) {
        running = false;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline && gates.stream().anyMatch(g -> !g.parked)) {
            Strategy.sleepMs(5);
        }
        out.write(out.reply(msg));
    }

    private Map<TopicPartition, Long> ownedProcessed() {
        Map<TopicPartition, Long> res = new HashMap<>();
        processedNext.forEach((tp, o) -> {
            if (owned.contains(tp)) {
                res.put(tp, o);
            }
        });
        return res;
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
            if (offsets.isEmpty()) {
                ObjectNode reply = out.reply(msg);
                reply.set("offsets", Out.JSON.createArrayNode());
                out.write(reply);
                return;
            }
        }
        boolean asynchronous = msg.path("asynchronous").asBoolean(false);
        String mode = asynchronous ? "async" : "sync";
        ObjectNode req = out.event("commit_requested");
        req.put("mode", mode);
        if (offsets == null) {
            req.putNull("offsets");
        } else {
            req.set("offsets", offsetsJson(offsets));
        }
        out.write(req);
        Map<TopicPartition, Long> given = offsets;
        List<Map<TopicPartition, Long>> parts = onConsumers("commit", c -> {
            Map<TopicPartition, Long> wanted = new HashMap<>();
            if (given == null) {
                positions.forEach((tp, o) -> {
                    if (c.assignment().contains(tp)) {
                        wanted.put(tp, o);
                    }
                });
            } else if (gates.size() == 1) {
                wanted.putAll(given);
            } else {
                given.forEach((tp, o) -> {
                    if (c.assignment().contains(tp)) {
                        wanted.put(tp, o);
                    }
                });
            }
            if (wanted.isEmpty()) {
                return wanted;
            }
            Map<TopicPartition, OffsetAndMetadata> client = new LinkedHashMap<>();
            wanted.forEach((tp, o) -> client.put(tp, new OffsetAndMetadata(o)));
            if (asynchronous) {
                Pending p = new Pending(mode, wanted, true);
                synchronized (pendingAsync) {
                    pendingAsync.add(p);
                }
                OffsetCommitCallback cb = (result, exc) -> {
                    synchronized (pendingAsync) {
                        if (!pendingAsync.remove(p)) {
                            return;
                        }
                    }
                    reportCommit(mode, wanted, exc == null ? null : Errors.commitError(exc));
                };
                try {
                    c.commitAsync(client, cb);
                } catch (RuntimeException e) {
                    synchronized (pendingAsync) {
                        pendingAsync.remove(p);
                    }
                    throw e;
                }
                return wanted;
            }
            SYNC_IN_FLIGHT.set(Boolean.TRUE);
            try {
                c.commitSync(client);
            } finally {
                SYNC_IN_FLIGHT.remove();
            }
            return wanted;
        });
        // reached only when every part was committed (or, async, handed to the client)
        Map<TopicPartition, Long> all = new HashMap<>();
        parts.forEach(all::putAll);
        if (!asynchronous) {
            reportCommit(mode, all, null);
        }
        ObjectNode reply = out.reply(msg);
        if (asynchronous) {
            reply.putNull("offsets");
        } else {
            reply.set("offsets", offsetsJson(all));
        }
        out.write(reply);
    }

    /** An explicit commit that failed: its ``committed`` event, then the error reply. */
    void commitFailed(JsonNode msg, RuntimeException e) {
        Errors.ConsumerError err = Errors.commitError(e);
        reportCommit(msg.path("asynchronous").asBoolean(false) ? "async" : "sync", Map.of(), err);
        throw err;
    }

    private void seek(JsonNode msg) {
        TopicPartition tp = new TopicPartition(field(msg, "topic").asText(),
            field(msg, "partition").asInt());
        long offset = field(msg, "offset").asLong();
        onOwner(tp, "seek", c -> {
            c.seek(tp, offset);
            return null;
        });
        positions.put(tp, offset);
        processedNext.remove(tp);
        ObjectNode e = out.event("seeked");
        e.put("topic", tp.topic());
        e.put("partition", tp.partition());
        e.put("offset", offset);
        out.write(e);
        out.write(out.reply(msg));
    }

    private void position(JsonNode msg) {
        TopicPartition tp = new TopicPartition(field(msg, "topic").asText(),
            field(msg, "partition").asInt());
        long offset = onOwner(tp, "position", c -> c.position(tp));
        ObjectNode reply = out.reply(msg);
        reply.put("offset", offset);
        out.write(reply);
    }

    private void committed(JsonNode msg) {
        List<TopicPartition> parts = partitions(msg);
        Map<TopicPartition, OffsetAndMetadata> got = parts.isEmpty() ? Map.of()
            : onThread(gate(), "committed", c -> c.committed(new HashSet<>(parts)));
        ArrayNode arr = Out.JSON.createArrayNode();
        List<TopicPartition> sorted = new ArrayList<>(parts);
        sorted.sort(TP_ORDER);
        for (TopicPartition tp : sorted) {
            OffsetAndMetadata o = got.get(tp);
            ArrayNode row = arr.addArray().add(tp.topic()).add(tp.partition());
            if (o == null) {
                row.addNull();
            } else {
                row.add(o.offset());
            }
        }
        ObjectNode reply = out.reply(msg);
        reply.set("offsets", arr);
        out.write(reply);
    }

    /** Through the container (pausePartition/resumePartition); the consumers apply it on
     *  their own thread at once, so the next poll honours it. */
    private void pauseResume(JsonNode msg, boolean pause) {
        List<TopicPartition> parts = partitions(msg);
        String call = pause ? "pause" : "resume";
        gate();
        watched(call, CALL_BOUND, () -> {
            for (TopicPartition tp : parts) {
                if (pause) {
                    container.pausePartition(tp);
                } else {
                    container.resumePartition(tp);
                }
            }
        });
        onConsumers(call, c -> {
            Collection<TopicPartition> mine = GatedConsumer.owned(c, parts);
            if (pause) {
                c.pause(mine);
            } else {
                c.resume(mine);
            }
            return null;
        });
        ObjectNode e = out.event(pause ? "paused" : "resumed");
        e.set("partitions", tps(parts));
        out.write(e);
        out.write(out.reply(msg));
    }

    private void assignment(JsonNode msg) {
        Set<TopicPartition> all = new HashSet<>();
        if (container != null) {
            onConsumers("assignment", Consumer::assignment).forEach(all::addAll);
        }
        ObjectNode reply = out.reply(msg);
        reply.set("partitions", tps(all));
        out.write(reply);
    }

    /** container.stop(): Spring commits its pending acks (mode ``close``), unsubscribes
     *  (revoked, ``revoke`` commits) and closes the consumers. */
    private void close(JsonNode msg) {
        running = false;
        stopping = true;
        if (container != null) {
            List<GatedConsumer> before = new ArrayList<>(gates);
            before.forEach(GatedConsumer::nudge);
            // stop() gives up after the shutdown timeout: the close ends when Spring's close
            // of each consumer (on its thread) returned
            watched("close", CLOSE_BOUND, () -> {
                container.stop();
                before.forEach(GatedConsumer::awaitClosed);
            });
            before.forEach(g -> g.abandon("the container stopped"));
        }
        if (pool != null) {
            pool.shutdown();
            try {
                pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<Pending> left;
        synchronized (pendingAsync) {
            left = new ArrayList<>(pendingAsync);
            pendingAsync.clear();
        }
        for (Pending p : left) {
            reportCommit(p.mode, p.offsets, new Errors.ConsumerError("commit-failed",
                "the consumer closed before the commit was acknowledged", true));
        }
        out.write(out.event("closed"));
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
            try {
                handle(msg);
            } catch (Errors.ConsumerError | Errors.ProtocolError | Errors.UsageError e) {
                throw e;
            } catch (RuntimeException e) {
                if ("commit".equals(msg.path("type").asText())) {
                    commitFailed(msg, e);
                }
                throw e;
            }
        } catch (Errors.ProtocolError e) {
            out.write(out.error(msg, "malformed-command", e.getMessage(), false, false));
        } catch (Errors.UsageError e) {
            out.write(out.error(msg, e.code, e.getMessage(), !initialized, false));
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
                item = commands.take();
            } catch (InterruptedException e) {
                return;
            }
            if (item == SpringMain.EOF) {
                return;
            }
            execute(item);
        }
    }
}
