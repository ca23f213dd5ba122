package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The worker's watch over its calls into the client, as conformance/calls.py's CallWatch: a
 * call still outstanding past its bound is reported once as {@code call_outstanding} (call,
 * id, since: the monotonic time it began, seconds outstanding, bound) by a daemon thread
 * ticking every 0.5 s; one that returns after all (or throws) is reported as
 * {@code call_returned} (call, id, seconds). Bounds as conformance.calls.bound: a poll's
 * timeout + 65 s, close 35 s, any other call 65 s.
 */
final class CallWatch {
    /** seconds a blocking client call may take: the clients' API timeout */
    static final double API_TIMEOUT = 60.0;
    /** seconds close() may take (the Java client's default close timeout) */
    static final double CLOSE_TIMEOUT = 30.0;
    /** slack beyond a documented bound before a call counts as never returning */
    static final double MARGIN = 5.0;
    private static final long TICK_MS = 500;

    private final Out out;
    private final Map<Long, Call> open = new LinkedHashMap<>();  // guarded by itself
    private long ids;  // guarded by open
    private Thread thread;  // guarded by open

    private static final class Call {
        final long id;
        final String name;
        final long started;  // System.nanoTime()
        final double bound;
        boolean reported;

        Call(long id, String name, long started, double bound) {
            this.id = id;
            this.name = name;
            this.started = started;
            this.bound = bound;
        }
    }

    CallWatch(Out out) {
        this.out = out;
    }

    /** The bound of close(). */
    static final double CLOSE_BOUND = CLOSE_TIMEOUT + MARGIN;
    /** The bound of any call but poll and close. */
    static final double CALL_BOUND = API_TIMEOUT + MARGIN;

    /** The bound of a poll with this timeout (seconds): its listener may commit. */
    static double pollBound(double timeout) {
        return Math.max(0.0, timeout) + API_TIMEOUT + MARGIN;
    }

    /** Run one client call under the watch. */
    <T> T call(String name, double bound, Supplier<T> body) {
        Call c;
        synchronized (open) {
            start();
            c = new Call(++ids, name, System.nanoTime(), bound);
            open.put(c.id, c);
        }
        try {
            return body.get();
        } finally {
            boolean reported;
            synchronized (open) {
                open.remove(c.id);
                reported = c.reported;
            }
            if (reported) {
                ObjectNode e = out.event("call_returned");
                e.put("call", name);
                e.put("id", c.id);
                e.put("seconds", round3(seconds(System.nanoTime() - c.started)));
                out.write(e);
            }
        }
    }

    /** Run one client call that returns nothing under the watch. */
    void run(String name, double bound, Runnable body) {
        call(name, bound, () -> {
            body.run();
            return null;
        });
    }

    private void start() {
        if (thread == null) {
            thread = new Thread(this::watch, "call-watch");
            thread.setDaemon(true);
            thread.start();
        }
    }

    private void watch() {
        while (true) {
            try {
                Thread.sleep(TICK_MS);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            List<Call> due = new ArrayList<>();
            synchronized (open) {
                for (Call c : open.values()) {
                    if (!c.reported && seconds(now - c.started) > c.bound) {
                        c.reported = true;
                        due.add(c);
                    }
                }
            }
            for (Call c : due) {
                ObjectNode e = out.event("call_outstanding");
                e.put("call", c.name);
                e.put("id", c.id);
                e.put("since", seconds(c.started));  // the clock of ts (Out.now)
                e.put("seconds", round3(seconds(now - c.started)));
                e.put("bound", c.bound);
                out.write(e);
            }
        }
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static double round3(double x) {
        return Math.round(x * 1000.0) / 1000.0;
    }
}
