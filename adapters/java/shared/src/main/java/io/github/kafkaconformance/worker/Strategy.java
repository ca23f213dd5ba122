package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/** A commit strategy and processing model (conformance/strategies.py) and its commit clock. */
final class Strategy {
    static final List<String> NAMES = List.of("auto", "RECORD", "BATCH", "TIME", "COUNT",
        "COUNT_TIME", "MANUAL", "MANUAL_IMMEDIATE");
    static final List<String> PROCESSING = List.of("in-loop", "pool", "per-partition");
    private static final Set<String> FIELDS = Set.of("name", "interval_ms", "count",
        "asynchronous", "commit_on_revoke", "processing", "process_ms");

    String name = "BATCH";
    long intervalMs = 1000;
    long count = 10;
    boolean asynchronous;
    boolean commitOnRevoke;
    String processing = "in-loop";
    double processMs;

    static Strategy fromJson(JsonNode node) {
        Strategy s = new Strategy();
        if (node == null || node.isNull()) {
            return s;
        }
        if (!node.isObject()) {
            throw new Errors.ProtocolError("strategy must be a JSON object");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!FIELDS.contains(field)) {
                throw new Errors.ProtocolError("unknown strategy field '" + field + "'");
            }
        }
        s.name = node.path("name").asText(s.name);
        s.intervalMs = node.path("interval_ms").asLong(s.intervalMs);
        s.count = node.path("count").asLong(s.count);
        s.asynchronous = node.path("asynchronous").asBoolean(false);
        s.commitOnRevoke = node.path("commit_on_revoke").asBoolean(false);
        s.processing = node.path("processing").asText(s.processing);
        s.processMs = node.path("process_ms").asDouble(0.0);
        if (!NAMES.contains(s.name)) {
            throw new Errors.ProtocolError("unknown commit strategy '" + s.name + "'; one of "
                + NAMES);
        }
        if (!PROCESSING.contains(s.processing)) {
            throw new Errors.ProtocolError("unknown processing model '" + s.processing
                + "'; one of " + PROCESSING);
        }
        return s;
    }

    boolean autoCommit() {
        return name.equals("auto");
    }

    /** The per-worker state deciding when to commit (CommitClock in strategies.py). */
    static final class Clock {
        private final Strategy s;
        long sinceCommit;
        long lastCommit = System.nanoTime();
        boolean ackedPending;

        Clock(Strategy s) {
            this.s = s;
        }

        void committed() {
            sinceCommit = 0;
            lastCommit = System.nanoTime();
            ackedPending = false;
        }

        /** Called once a record is processed: commit now? */
        boolean afterRecord() {
            sinceCommit++;
            switch (s.name) {
                case "BATCH":
                case "auto":
                    return false;
                case "RECORD":
                case "MANUAL_IMMEDIATE":
                    return true;
                case "MANUAL":
                    ackedPending = true;
                    return false;
                default:
                    break;
            }
            boolean countDue = sinceCommit >= s.count;
            boolean timeDue = (System.nanoTime() - lastCommit) / 1e6 >= s.intervalMs;
            switch (s.name) {
                case "COUNT":
                    return countDue;
                case "TIME":
                    return timeDue;
                case "COUNT_TIME":
                    return countDue || timeDue;
                default:
                    return false;
            }
        }

        /** Called after all records of one poll are processed: commit now? */
        boolean afterBatch() {
            return s.name.equals("BATCH") && sinceCommit > 0;
        }

        /** Called before each poll: commit what was acknowledged (MANUAL)? */
        boolean beforePoll() {
            return s.name.equals("MANUAL") && ackedPending;
        }
    }

    /** Simulated work of ``ms`` milliseconds (the strategy's process_ms), parked. */
    static void sleepMs(double ms) {
        long deadline = System.nanoTime() + (long) (ms * 1e6);
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            LockSupport.parkNanos(left);
        }
    }
}
