package io.github.kafkaconformance.worker;

import static io.github.kafkaconformance.worker.Wire.field;
import static io.github.kafkaconformance.worker.Wire.offsetsJson;
import static io.github.kafkaconformance.worker.Wire.partitions;
import static io.github.kafkaconformance.worker.Wire.rec;
import static io.github.kafkaconformance.worker.Wire.recs;
import static io.github.kafkaconformance.worker.Wire.tp;
import static io.github.kafkaconformance.worker.Wire.tps;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The worker protocol's half of every JVM worker (docs/worker-protocol.md), shared by the java
 * worker (kafka-clients, {@code Worker}) and the spring-kafka worker ({@code SpringWorker}),
 * which compile this source folder beside their own: the process ({@link #main}: stdout kept
 * for the protocol, a reader thread putting stdin's commands on a queue, end of input exits at
 * once), the command loop ({@link #serve}: one command at a time on the main thread, each
 * validated, dispatched and answered by exactly one reply, every failure mapped to its error
 * code), the commands' parsing, events and replies, the offsets the protocol tracks (owned
 * partitions, processed offsets, positions), the watch over client calls and the close.
 *
 * <p>A subclass is one client: how it consumes, commits and hears rebalances. It implements
 * the client's side of the shared commands (the abstract methods below) and registers the
 * commands of its own ({@link #command}); a command type nobody registered is unknown to the
 * worker ({@code malformed-command}).
 */
abstract class ProtocolWorker {
    /** The reader's mark for the end of stdin. */
    static final Object EOF = new Object();

    /** One command's handler: its events, then exactly one reply (or an exception). */
    @FunctionalInterface
    interface Command {
        void run(JsonNode msg);
    }

    final Out out;
    /** every call into the client is watched: one that never returns is reported */
    private final CallWatch watch;
    private final String client;
    private final String clientVersion;
    /** the adapter names ``describe`` and ``init`` accept, the first the default */
    private final List<String> adapters;
    private final Map<String, Command> commands = new HashMap<>();
    private boolean initialized;
    private boolean done;
    private ExecutorService pool;

    /** set by ``init`` before {@link #start} */
    ClientConfig config;
    Strategy strategy = new Strategy();
    /** the partitions the member owns (its listener's view) */
    final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
    /** uncommitted: last processed + 1 */
    final Map<TopicPartition, Long> processedNext = new ConcurrentHashMap<>();
    /** the position after returned records or a seek: what a commit without offsets commits */
    final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();

    ProtocolWorker(Out out, String client, String clientVersion, String... adapters) {
        this.out = out;
        this.watch = new CallWatch(out);
        this.client = client;
        this.clientVersion = clientVersion;
        this.adapters = List.of(adapters);
        command("describe", this::cmdDescribe);
        command("init", this::cmdInit);
        command("subscribe", this::cmdSubscribe);
        command("poll", this::cmdPoll);
        command("commit", this::cmdCommit);
        command("seek", this::cmdSeek);
        command("position", this::cmdPosition);
        command("committed", this::cmdCommitted);
        command("pause", msg -> cmdPauseResume(msg, true));
        command("resume", msg -> cmdPauseResume(msg, false));
        command("assignment", this::cmdAssignment);
        command("close", this::cmdClose);
    }

    // -- the process ---------------------------------------------------------------------------

    /**
     * The main of a worker process: {@code java ... MainClass --id m1}. Replies and events go
     * to the real stdout; everything else written to System.out goes to stderr. A reader
     * thread puts stdin's commands on a queue; the main thread executes them ({@link #serve}).
     * The process exits after {@code close} or at the end of stdin, at once and without
     * closing the consumer.
     */
    static void main(String[] args, Function<Out, ProtocolWorker> worker) {
        String member = "m1";
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--id") && i + 1 < args.length) {
                member = args[++i];
            } else if (args[i].startsWith("--id=")) {
                member = args[i].substring(5);
            }
        }
        Out out = new Out(member);
        System.setOut(new PrintStream(System.err, true, StandardCharsets.UTF_8));
        BlockingQueue<Object> commands = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> read(out, commands), "stdin");
        reader.setDaemon(true);
        reader.start();
        worker.apply(out).serve(commands);
        out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void read(Out out, BlockingQueue<Object> commands) {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                try {
                    commands.put(Out.JSON.readTree(line));
                } catch (JsonProcessingException e) {
                    out.write(out.error(null, "malformed-command", "not JSON: "
                        + e.getOriginalMessage(), false, false));
                }
            }
        } catch (IOException | InterruptedException e) {
            // end of input
        }
        commands.add(EOF);
    }

    // -- the command loop ----------------------------------------------------------------------

    /** Serve commands until {@code close} or the end of input. In run mode a worker whose
     *  poll loop is this thread ({@link #pollsBetweenCommands}) polls between commands. */
    final void serve(BlockingQueue<Object> commands) {
        while (!done) {
            boolean polling = pollsBetweenCommands();
            Object item;
            try {
                item = polling ? commands.poll() : commands.take();
            } catch (InterruptedException e) {
                return;
            }
            if (item == EOF) {
                return;
            }
            if (item != null) {
                execute(item);
            } else if (polling) {
                runModePoll();
            }
        }
    }

    /** One poll of run mode; a failure is an {@code error} event (not fatal), and one that no
     *  client error maps (a worker bug: adapter-error) ends run mode. */
    private void runModePoll() {
        try {
            pollBetweenCommands();
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
                endRunMode();
            }
            ev.put("fatal", false);
            out.write(ev);
        }
    }

    /** One command: its reply, or the error reply its failure maps to. */
    final void execute(Object item) {
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
                throw failed(msg, e);
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

    private void handle(JsonNode msg) {
        JsonNode type = msg.get("type");
        String kind = type != null && type.isTextual() ? type.asText() : null;
        Command command = kind == null ? null : commands.get(kind);
        if (command == null && kind != null && capabilities().has(kind)
                && !capabilities().get(kind).asBoolean()) {
            // a command of the protocol that this worker's capabilities say it lacks
            throw Errors.unsupported(kind + ": not a capability of this worker");
        }
        if (command == null) {
            throw new Errors.ProtocolError("unknown command type "
                + (kind == null ? String.valueOf(type) : "'" + kind + "'"));
        }
        if (!kind.equals("init") && !kind.equals("describe") && !initialized) {
            throw new Errors.ProtocolError("the first command must be 'init'");
        }
        command.run(msg);
    }

    /** Register the handler of a command type (a subclass's own commands). */
    final void command(String type, Command handler) {
        commands.put(type, handler);
    }

    // -- what a client implements --------------------------------------------------------------

    /** {@code init}, once the config and strategy passed and were set: create the client.
     *  ``adapter`` is the accepted adapter name. Throws to refuse; init may be tried again. */
    protected abstract void start(String adapter, JsonNode msg);

    /** {@code subscribe} (the member has a group id). */
    protected abstract void subscribe(List<String> topics);

    /** {@code poll}: the records it returned (events written). */
    protected abstract List<ConsumerRecord<byte[], byte[]>> poll(JsonNode msg);

    /** A {@code commit} command's commit of ``offsets`` (null: the consumed positions), with
     *  its {@code commit_requested} and {@code committed} events: the offsets committed, or
     *  null for an asynchronous commit (reported in its callback). */
    protected abstract Map<TopicPartition, Long> commitOffsets(Map<TopicPartition, Long> offsets,
                                                               boolean asynchronous);

    /** {@code seek}: the client's seek (the worker then tracks the position and reports). */
    protected abstract void seek(TopicPartition tp, long offset);

    /** {@code position}. */
    protected abstract long position(TopicPartition tp);

    /** {@code committed}: the reply's rows ({@link Wire#committedJson}). */
    protected abstract ArrayNode committed(List<TopicPartition> partitions);

    /** {@code pause} / {@code resume}: the client's call (the worker then reports). */
    protected abstract void pauseResume(List<TopicPartition> partitions, boolean pause);

    /** {@code assignment}. */
    protected abstract Collection<TopicPartition> assignment();

    /** {@code close}: stop and close the client; the worker then writes {@code closed}, the
     *  reply and exits. */
    protected abstract void close(JsonNode msg);

    /** kafka-clients' own successful commit, seen by {@link AutoCommits} (any thread):
     *  reported as {@code auto} unless the worker reports it itself. */
    abstract void onClientCommit(Map<TopicPartition, OffsetAndMetadata> offsets);

    /** Why this worker cannot run ``cfg`` (null: it can), for {@code describe} and
     *  {@code init}. */
    protected String unsupported(ClientConfig cfg) {
        return cfg.unsupported();
    }

    /** The capabilities {@code describe}, {@code ready} and {@code init_ok} report. */
    protected ObjectNode capabilities() {
        ObjectNode caps = ClientConfig.capabilities();
        caps.put("reports_calls", true);  // call_outstanding / call_returned (CallWatch)
        return caps;
    }

    /** {@code describe}'s {@code runtime}. */
    protected String runtime() {
        return "java " + System.getProperty("java.version");
    }

    /** A command failed with an exception that is none of the protocol's errors: what its
     *  error reply reports (e.g. a failed commit's {@code committed} event written first). */
    protected RuntimeException failed(JsonNode msg, RuntimeException e) {
        return e;
    }

    /** Whether the command loop polls between commands now: run mode of a worker whose poll
     *  loop is the command thread (java); a spring-kafka container polls on its own threads. */
    protected boolean pollsBetweenCommands() {
        return false;
    }

    /** One poll between commands (run mode, above). */
    protected void pollBetweenCommands() {
    }

    /** Run mode ends: a poll between commands failed with an error no client error maps. */
    protected void endRunMode() {
    }

    // -- the shared commands -------------------------------------------------------------------

    private String checkAdapter(JsonNode msg) {
        String name = msg.path("adapter").asText("");
        if (!adapters.contains(name)) {
            throw new Errors.UsageError("unknown-adapter", "unknown client '" + name
                + "': this worker runs only '" + String.join("' and '", adapters) + "' ("
                + client + ")");
        }
        return name;
    }

    private ObjectNode info(ObjectNode node, String adapter) {
        node.put("adapter", adapter);
        node.put("client", client);
        node.put("client_version", clientVersion);
        node.set("capabilities", capabilities());
        return node;
    }

    /** The client, its release and capabilities, and per config why it cannot run (null where
     *  it runs); no consumer is created. */
    private void cmdDescribe(JsonNode msg) {
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
        // no variants: spring-kafka:batch is not listed, since generated runs pick variants
        // per member whatever the strategy, and Spring refuses AckMode.RECORD with a batch
        // listener
        reply.set("variants", Out.JSON.createArrayNode());
        reply.putNull("python");
        reply.put("runtime", runtime());
        reply.put("executable", ProcessHandle.current().info().command().orElse("java"));
        out.write(reply);
    }

    private void cmdInit(JsonNode msg) {
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
        if (reason != null) {
            throw Errors.unsupported(reason);
        }
        config = cfg;
        strategy = s;
        AutoCommits.owner = this;
        start(name, msg);
        initialized = true;
        ObjectNode ready = info(out.event("ready"), name);
        ready.put("pid", ProcessHandle.current().pid());
        out.write(ready);
        ObjectNode reply = info(out.reply(msg), name);
        reply.put("pid", ProcessHandle.current().pid());
        out.write(reply);
    }

    /** ``command`` needs a group id: illegal-state without one. */
    final void requireGroup(String command) {
        if (!config.hasGroup()) {
            throw new Errors.ConsumerError("illegal-state",
                command + " needs a group id (the consumer has none)", false);
        }
    }

    private void cmdSubscribe(JsonNode msg) {
        List<String> topics = new ArrayList<>();
        for (JsonNode t : field(msg, "topics")) {
            topics.add(t.asText());
        }
        requireGroup("subscribe");
        subscribe(topics);
        out.write(out.reply(msg));
    }

    private void cmdPoll(JsonNode msg) {
        List<ConsumerRecord<byte[], byte[]>> records = poll(msg);
        ObjectNode reply = out.reply(msg);
        reply.set("records", recs(records));
        out.write(reply);
    }

    private void cmdCommit(JsonNode msg) {
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
        Map<TopicPartition, Long> result = commitOffsets(offsets,
            msg.path("asynchronous").asBoolean(false));
        ObjectNode reply = out.reply(msg);
        if (result == null) {
            reply.putNull("offsets");
        } else {
            reply.set("offsets", offsetsJson(result));
        }
        out.write(reply);
    }

    /** The partition a command names by {@code topic} and {@code partition}. */
    static TopicPartition topicPartition(JsonNode msg) {
        return new TopicPartition(field(msg, "topic").asText(), field(msg, "partition").asInt());
    }

    private void cmdSeek(JsonNode msg) {
        TopicPartition tp = topicPartition(msg);
        long offset = field(msg, "offset").asLong();
        seek(tp, offset);
        positions.put(tp, offset);
        processedNext.remove(tp);
        ObjectNode e = out.event("seeked");
        e.put("topic", tp.topic());
        e.put("partition", tp.partition());
        e.put("offset", offset);
        out.write(e);
        out.write(out.reply(msg));
    }

    private void cmdPosition(JsonNode msg) {
        TopicPartition tp = topicPartition(msg);
        long offset = position(tp);
        ObjectNode reply = out.reply(msg);
        reply.put("offset", offset);
        out.write(reply);
    }

    private void cmdCommitted(JsonNode msg) {
        ArrayNode rows = committed(partitions(msg));
        ObjectNode reply = out.reply(msg);
        reply.set("offsets", rows);
        out.write(reply);
    }

    private void cmdPauseResume(JsonNode msg, boolean pause) {
        List<TopicPartition> parts = partitions(msg);
        pauseResume(parts, pause);
        out.write(partitionsEvent(pause ? "paused" : "resumed", parts));
        out.write(out.reply(msg));
    }

    private void cmdAssignment(JsonNode msg) {
        ObjectNode reply = out.reply(msg);
        reply.set("partitions", tps(assignment()));
        out.write(reply);
    }

    private void cmdClose(JsonNode msg) {
        close(msg);
        out.write(out.event("closed"));
        out.write(out.reply(msg));
        done = true;
    }

    // -- calls, events, tracking ---------------------------------------------------------------

    /** A commit the worker reports itself: its mode and offsets. An asynchronous one waits in
     *  its worker's list of pending commits (guarded by the list) for its outcome. */
    static class Commit {
        final String mode;
        final Map<TopicPartition, Long> offsets;
        /** the interceptor ({@link AutoCommits}) saw it succeed */
        boolean interceptorSeen;

        Commit(String mode, Map<TopicPartition, Long> offsets) {
            this.mode = mode;
            this.offsets = offsets;
        }
    }

    /** Whether ``got``, a commit the interceptor saw succeed, is one of the ``pending`` async
     *  commits the worker reports itself (each is matched once), so not an auto commit. */
    static boolean ownCommit(List<? extends Commit> pending, Map<TopicPartition, Long> got) {
        synchronized (pending) {
            for (Commit p : pending) {
                if (!p.interceptorSeen && p.offsets.equals(got)) {
                    p.interceptorSeen = true;
                    return true;
                }
            }
        }
        return false;
    }

    /** One call into the client, under the watch (``call``: the Python worker's name). Any
     *  thread; the events go through ``out``, which writes whole lines under a lock. */
    final <T> T watched(String call, double bound, Supplier<T> body) {
        return watch.call(call, bound, body);
    }

    final void watched(String call, double bound, Runnable body) {
        watch.run(call, bound, body);
    }

    /** An event that names partitions: assigned, revoked, lost, paused, resumed. */
    final ObjectNode partitionsEvent(String type, Collection<TopicPartition> partitions) {
        ObjectNode e = out.event(type);
        e.set("partitions", tps(partitions));
        return e;
    }

    /** The listener heard an assignment: owned, positions forgotten, {@code assigned}
     *  (nothing for an empty one: cooperative and consumer-protocol rebalances that give
     *  nothing). */
    final void assigned(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        owned.addAll(partitions);
        partitions.forEach(positions::remove);
        out.write(partitionsEvent("assigned", partitions));
    }

    /** The member no longer owns ``partitions``: forget what was tracked of them. */
    void forget(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            owned.remove(tp);
            processedNext.remove(tp);
            positions.remove(tp);
        }
    }

    /** The processed offsets of the owned partitions. */
    final Map<TopicPartition, Long> ownedProcessed() {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        processedNext.forEach((tp, o) -> {
            if (owned.contains(tp)) {
                offsets.put(tp, o);
            }
        });
        return offsets;
    }

    /** A poll returned ``records`` (not empty): the positions after them, {@code polled};
     *  the records as the event wrote them. */
    final ArrayNode polled(List<ConsumerRecord<byte[], byte[]>> records) {
        for (ConsumerRecord<byte[], byte[]> r : records) {
            positions.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
        }
        ArrayNode json = recs(records);
        ObjectNode e = out.event("polled");
        e.set("records", json);
        out.write(e);
        return json;
    }

    /** {@code processed} for ``records`` (as {@link Wire#rec} writes them). */
    final void processed(ArrayNode records) {
        ObjectNode e = out.event("processed");
        e.set("records", records);
        out.write(e);
    }

    /** S6's pool model: ``r`` goes to a four-thread pool, which reports it processed after a
     *  random share of the work; the caller goes on at once (and commits what it handed off,
     *  not what finished). */
    final void handOff(ConsumerRecord<byte[], byte[]> r) {
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
            processed(one);
        });
    }

    /** Let the processing pool finish what it was handed (30 s at most). */
    final void shutdownPool() {
        ExecutorService p;
        synchronized (this) {
            p = pool;
        }
        if (p != null) {
            p.shutdown();
            try {
                p.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** {@code committed}: a commit's outcome (``error`` null: it succeeded). */
    final void reportCommit(String mode, Map<TopicPartition, Long> offsets,
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
        out.write(e);
    }

    /** An async commit still unanswered when the consumer closed: reported failed. */
    final void reportUnacknowledged(String mode, Map<TopicPartition, Long> offsets) {
        reportCommit(mode, offsets, new Errors.ConsumerError("commit-failed",
            "the consumer closed before the commit was acknowledged", true));
    }
}
