package io.github.kafkaconformance.worker;

import static io.github.kafkaconformance.worker.CallWatch.CALL_BOUND;
import static io.github.kafkaconformance.worker.CallWatch.CLOSE_BOUND;
import static io.github.kafkaconformance.worker.Wire.committedJson;
import static io.github.kafkaconformance.worker.Wire.offsetsJson;
import static io.github.kafkaconformance.worker.Wire.plain;
import static io.github.kafkaconformance.worker.Wire.rec;
import static io.github.kafkaconformance.worker.Wire.toClient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
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
 * serves the commands that fit a container (docs/spring-kafka-worker.md). The command loop,
 * the commands' parsing and replies and the offsets tracked are {@link ProtocolWorker}'s.
 */
final class SpringWorker extends ProtocolWorker {
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

    private String adapter = ADAPTER;
    private Properties props;
    private ConcurrentMessageListenerContainer<byte[], byte[]> container;
    private final List<GatedConsumer> gates = new CopyOnWriteArrayList<>();
    private volatile boolean running;
    private volatile boolean stopping;
    private final List<Pending> pendingAsync = new ArrayList<>();

    /** A commit that was requested: its mode and offsets (async: until its callback);
     *  ``explicit``: a commit command's, else Spring's. */
    static final class Pending extends Commit {
        final boolean explicit;

        Pending(String mode, Map<TopicPartition, Long> offsets, boolean explicit) {
            super(mode, offsets);
            this.explicit = explicit;
        }
    }

    /** Calls into Spring or the consumer are watched ({@link #watched}) on any thread: the
     *  command thread and the container's consumer threads (their polls, Spring's commits). */
    SpringWorker(Out out) {
        super(out, CLIENT, VERSION, ADAPTER, BATCH_VARIANT);
        command("assign", msg -> {
            throw Errors.unsupported("assign: a listener container subscribes (manual "
                + "assignment would be a container of TopicPartitionOffsets, fixed at start)");
        });
        command("run", this::run);
        command("halt", this::halt);
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

    // -- events from the container (polled: ProtocolWorker.polled) ------------------------------
    private String ackModeName() {
        return strategy.name.toLowerCase();
    }

    /** A commit Spring is about to make: ``commit_requested`` with its mode. */
    Pending requested(Map<TopicPartition, OffsetAndMetadata> offsets, boolean async) {
        String ctx = CONTEXT.get();
        String mode = ctx != null ? ctx : stopping ? "close" : ackModeName();
        Pending p = new Pending(mode, plain(offsets), false);
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

    /** Spring's commit callback (ContainerProperties.setCommitCallback): async outcomes. */
    private void onCommitCallback(Map<TopicPartition, OffsetAndMetadata> offsets, Exception exc) {
        Map<TopicPartition, Long> got = offsets == null ? Map.of() : plain(offsets);
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
    @Override
    void onClientCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        if (SYNC_IN_FLIGHT.get() != null) {
            return;
        }
        Map<TopicPartition, Long> got = plain(offsets);
        if (!ownCommit(pendingAsync, got)) {
            reportCommit("auto", got, null);
        }
    }

    /** Around Spring's own rebalance listener: ``assigned`` before Spring commits the
     *  initial position; commits inside it have mode ``assign``/``revoke``. */
    ConsumerRebalanceListener wrapListener(ConsumerRebalanceListener spring) {
        return new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                assigned(partitions);
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
                out.write(partitionsEvent("revoked", partitions));
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
                out.write(partitionsEvent("lost", partitions));
            }
        }

        @Override
        public void onPartitionsAssigned(Consumer<?, ?> consumer,
                                         Collection<TopicPartition> partitions) {
            // reported by wrapListener, before Spring's commit of the initial position
        }
    }

    // -- the listeners -------------------------------------------------------------------------
    private void process(ConsumerRecord<byte[], byte[]> r) {
        if (strategy.processMs > 0) {
            Strategy.sleepMs(strategy.processMs);
        }
        processed(Out.JSON.createArrayNode().add(rec(r)));
        processedNext.put(tpOf(r), r.offset() + 1);
    }

    private Object listener() {
        boolean poolModel = strategy.processing.equals("pool");
        // the pool model (S6): handOff returns at once, so Spring commits what was delivered,
        // not what finished
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
    @Override
    protected ObjectNode capabilities() {
        ObjectNode caps = super.capabilities();
        caps.put("manual_assignment", false);
        caps.put("offset_reset_none", false);
        caps.put("unsubscribe", false);  // the container owns the subscription
        caps.put("seek_to_end", false);  // seeks go through the container (ConsumerSeekAware)
        return caps;
    }

    @Override
    protected String runtime() {
        return super.runtime() + ", kafka-clients " + ClientConfig.VERSION;
    }

    /** Why this worker cannot run ``cfg`` (null: it can). */
    @Override
    protected String unsupported(ClientConfig cfg) {
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

    @Override
    protected void start(String name, JsonNode msg) {
        if (name.equals(BATCH_VARIANT) && strategy.name.equals("RECORD")) {
            throw Errors.unsupported("AckMode.RECORD with a batch listener: Spring refuses it "
                + "(\"Cannot use AckMode.RECORD with a batch listener\")");
        }
        adapter = name;
        props = config.properties(false);
        if (strategy.autoCommit()) {
            props.put("interceptor.classes", AutoCommits.class.getName());
        }
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

    @Override
    protected void subscribe(List<String> topics) {
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

    @Override
    protected List<ConsumerRecord<byte[], byte[]>> poll(JsonNode msg) {
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
        return GatedConsumer.await(p.done, () -> p.polling, timeout + 60,
            "the container did not finish the poll");
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

    @Override
    protected Map<TopicPartition, Long> commitOffsets(Map<TopicPartition, Long> offsets,
                                                      boolean asynchronous) {
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
            Map<TopicPartition, OffsetAndMetadata> client = toClient(wanted);
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
        if (asynchronous) {
            return null;
        }
        reportCommit(mode, all, null);
        return all;
    }

    /** An explicit commit that failed: its ``committed`` event, then the error reply. */
    @Override
    protected RuntimeException failed(JsonNode msg, RuntimeException e) {
        if (!"commit".equals(msg.path("type").asText())) {
            return e;
        }
        Errors.ConsumerError err = Errors.commitError(e);
        reportCommit(msg.path("asynchronous").asBoolean(false) ? "async" : "sync", Map.of(), err);
        return err;
    }

    @Override
    protected void seek(TopicPartition tp, long offset) {
        onOwner(tp, "seek", c -> {
            c.seek(tp, offset);
            return null;
        });
    }

    @Override
    protected long position(TopicPartition tp) {
        return onOwner(tp, "position", c -> c.position(tp));
    }

    @Override
    protected ArrayNode committed(List<TopicPartition> parts) {
        Map<TopicPartition, OffsetAndMetadata> got = parts.isEmpty() ? Map.of()
            : onThread(gate(), "committed", c -> c.committed(new HashSet<>(parts)));
        return committedJson(parts, got);
    }

    /** Through the container (pausePartition/resumePartition); the consumers apply it on
     *  their own thread at once, so the next poll honours it. */
    @Override
    protected void pauseResume(List<TopicPartition> parts, boolean pause) {
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
    }

    @Override
    protected Collection<TopicPartition> assignment() {
        Set<TopicPartition> all = new HashSet<>();
        if (container != null) {
            onConsumers("assignment", Consumer::assignment).forEach(all::addAll);
        }
        return all;
    }

    /** container.stop(): Spring commits its pending acks (mode ``close``), unsubscribes
     *  (revoked, ``revoke`` commits) and closes the consumers. */
    @Override
    protected void close(JsonNode msg) {
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
        shutdownPool();
        List<Pending> left;
        synchronized (pendingAsync) {
            left = new ArrayList<>(pendingAsync);
            pendingAsync.clear();
        }
        for (Pending p : left) {
            reportUnacknowledged(p.mode, p.offsets);
        }
    }
}
