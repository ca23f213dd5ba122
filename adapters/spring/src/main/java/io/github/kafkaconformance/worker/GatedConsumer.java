package io.github.kafkaconformance.worker;

import static io.github.kafkaconformance.worker.CallWatch.CALL_BOUND;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.common.TopicPartition;

/**
 * Wraps each consumer the container creates (a ConsumerPostProcessor), without changing what
 * Spring asks of it:
 *
 * <ul>
 *   <li>{@code poll} is a gate: in run mode it polls at once; otherwise it waits for a
 *   {@code poll} command (one container poll per command) and meanwhile runs the commands that
 *   need the consumer on its own thread (commit, seek, position, committed, pause).</li>
 *   <li>{@code commitSync}/{@code commitAsync} write {@code commit_requested} first (mode: the
 *   AckMode lowercased, {@code revoke} inside the rebalance listener, {@code close} while the
 *   container stops, {@code assign} for Spring's commit of the initial position) and, for a
 *   sync commit, {@code committed} with its outcome (async outcomes arrive in Spring's commit
 *   callback, see {@link SpringWorker}).</li>
 *   <li>{@code subscribe} wraps Spring's rebalance listener so that {@code assigned} is written
 *   before Spring commits the initial position of a new partition.</li>
 * </ul>
 *
 * <p>The container polls on its own thread, without a command in run mode: its
 * {@code KafkaConsumer.poll} (and Spring's commits) are watched here, where they are made
 * ({@link SpringWorker#watched}); a step {@code poll} command only waits for the outcome.
 */
final class GatedConsumer implements InvocationHandler {
    /** A step-mode poll: the reply is written once Spring is done with the records. */
    static final class Permit {
        final double timeout;
        final boolean process;
        final CompletableFuture<List<ConsumerRecord<byte[], byte[]>>> done =
            new CompletableFuture<>();
        List<ConsumerRecord<byte[], byte[]>> records = List.of();
        /** true while its KafkaConsumer.poll is outstanding */
        volatile boolean polling;

        Permit(double timeout, boolean process) {
            this.timeout = timeout;
            this.process = process;
        }
    }

    private static final Object WAKE = new Object();

    final Consumer<byte[], byte[]> delegate;
    private final SpringWorker worker;
    private final BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    private Permit outstanding;
    /** true while the consumer thread waits at the gate (not in run mode) */
    volatile boolean parked;
    volatile Thread thread;
    /** completed once Spring's close() of the consumer returned (or threw) */
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private GatedConsumer(Consumer<byte[], byte[]> delegate, SpringWorker worker) {
        this.delegate = delegate;
        this.worker = worker;
    }

    @SuppressWarnings("unchecked")
    static Consumer<byte[], byte[]> wrap(Consumer<byte[], byte[]> delegate, SpringWorker worker) {
        GatedConsumer handler = new GatedConsumer(delegate, worker);
        worker.register(handler);
        return (Consumer<byte[], byte[]>) Proxy.newProxyInstance(
            GatedConsumer.class.getClassLoader(), new Class<?>[] {Consumer.class}, handler);
    }

    /** Run ``task`` on the consumer's thread (at its next poll) and wait for its result: an
     *  error if the thread does not take it up within ``timeoutSeconds``, else as long as it
     *  runs (its client call is watched: past its bound it is reported, and the harness gives
     *  up on the reply). */
    <T> T call(Supplier<T> task, double timeoutSeconds) {
        CompletableFuture<T> future = new CompletableFuture<>();
        AtomicBoolean started = new AtomicBoolean();
        inbox.add((Runnable) () -> {
            started.set(true);
            try {
                future.complete(task.get());
            } catch (RuntimeException e) {
                future.completeExceptionally(e);
            }
        });
        return await(future, started::get, timeoutSeconds, "the container's consumer thread did "
            + "not run the command");
    }

    /** As {@link #await(CompletableFuture, double, String)}, but waits on while ``busy``. */
    static <T> T await(CompletableFuture<T> future, BooleanSupplier busy, double timeoutSeconds,
                       String what) {
        while (true) {
            try {
                return await(future, timeoutSeconds, what);
            } catch (Errors.ConsumerError e) {
                if (future.isDone() || !busy.getAsBoolean()) {
                    throw e;
                }
            }
        }
    }

    static <T> T await(CompletableFuture<T> future, double timeoutSeconds, String what) {
        try {
            return future.get((long) (timeoutSeconds * 1000), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            throw new IllegalStateException(cause);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new Errors.ConsumerError("consumer-error", what + " within "
                + timeoutSeconds + " s (is the container running?)", true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    void permit(Permit p) {
        inbox.add(p);
    }

    /** Let a consumer parked at the gate see run mode or a stop. */
    void nudge() {
        inbox.add(WAKE);
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        int n = args == null ? 0 : args.length;
        if (name.equals("poll") && n == 1 && args[0] instanceof Duration) {
            return gatedPoll((Duration) args[0]);
        }
        if (name.equals("commitSync") && n >= 1 && args[0] instanceof Map) {
            return commitSync(method, args);
        }
        if (name.equals("commitAsync") && n == 2 && args[0] instanceof Map) {
            @SuppressWarnings("unchecked")
            Map<TopicPartition, OffsetAndMetadata> offsets =
                (Map<TopicPartition, OffsetAndMetadata>) args[0];
            SpringWorker.Pending pending = worker.requested(offsets, true);
            try {
                return commit(method, args);
            } catch (RuntimeException e) {
                worker.asyncFailedAtOnce(pending, e);
                throw e;
            }
        }
        if (name.equals("subscribe") && n == 2 && args[1] instanceof ConsumerRebalanceListener) {
            args = args.clone();
            args[1] = worker.wrapListener((ConsumerRebalanceListener) args[1]);
            return forward(method, args);
        }
        if (name.equals("wakeup") && n == 0) {
            nudge();
            return forward(method, args);
        }
        if (name.equals("close")) {
            // watched by the close command, which waits for it (awaitClosed)
            worker.unregister(this);
            try {
                return forward(method, args);
            } finally {
                closed.complete(null);
            }
        }
        return forward(method, args);
    }

    /** Wait until Spring closed this consumer, as long as its thread may still do it. */
    void awaitClosed() {
        Thread t = thread;
        while (!closed.isDone() && t != null && t.isAlive()) {
            Strategy.sleepMs(10);
        }
    }

    private Object forward(Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(delegate, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** Spring's commit call on the delegate, watched as ``commit``. */
    private Object commit(Method method, Object[] args) {
        return worker.watched("commit", CALL_BOUND, () -> invokeDelegate(method, args));
    }

    /** ``method`` on the delegate; Consumer's methods declare no checked exception. */
    private Object invokeDelegate(Method method, Object[] args) {
        try {
            return method.invoke(delegate, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            throw new IllegalStateException(cause);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private Object commitSync(Method method, Object[] args) throws Throwable {
        @SuppressWarnings("unchecked")
        Map<TopicPartition, OffsetAndMetadata> offsets =
            (Map<TopicPartition, OffsetAndMetadata>) args[0];
        SpringWorker.Pending pending = worker.requested(offsets, false);
        SpringWorker.SYNC_IN_FLIGHT.set(Boolean.TRUE);
        try {
            Object result = commit(method, args);
            worker.reportCommit(pending.mode, pending.offsets, null);
            return result;
        } catch (RuntimeException e) {
            worker.reportCommit(pending.mode, pending.offsets, Errors.commitError(e));
            throw e;
        } finally {
            SpringWorker.SYNC_IN_FLIGHT.remove();
        }
    }

    private void drainTasks() {
        Object item;
        while ((item = inbox.peek()) instanceof Runnable || item == WAKE) {
            inbox.poll();
            if (item instanceof Runnable) {
                ((Runnable) item).run();
            }
        }
    }

    /** One container poll: at once in run mode, else after a ``poll`` command. */
    private ConsumerRecords<byte[], byte[]> gatedPoll(Duration timeout) throws InterruptedException {
        thread = Thread.currentThread();
        if (outstanding != null) {  // Spring is done with the last step's records
            Permit done = outstanding;
            outstanding = null;
            done.done.complete(done.records);
        }
        while (true) {
            drainTasks();
            if (worker.stopping() || worker.running()) {
                parked = false;
                drainTasks();
                return polled(worker.watched("poll",
                    CallWatch.pollBound(timeout.toMillis() / 1000.0), () -> delegate.poll(timeout)));
            }
            parked = true;
            Object item = inbox.poll(200, TimeUnit.MILLISECONDS);
            if (item instanceof Runnable) {
                ((Runnable) item).run();
            } else if (item instanceof Permit) {
                parked = false;
                Permit p = (Permit) item;
                ConsumerRecords<byte[], byte[]> got;
                Duration pollFor = Duration.ofMillis((long) (p.timeout * 1000));
                p.polling = true;
                try {
                    got = polled(worker.watched("poll", CallWatch.pollBound(p.timeout),
                        () -> delegate.poll(pollFor)));
                } catch (RuntimeException e) {
                    p.done.completeExceptionally(e);
                    throw e;
                } finally {
                    p.polling = false;
                }
                p.records = list(got);
                if (!p.process && !got.isEmpty()) {
                    // polled, not processed: rewind so that Spring neither processes nor
                    // commits them, and the next poll reads them again
                    for (TopicPartition tp : got.partitions()) {
                        long first = got.records(tp).get(0).offset();
                        worker.watched("seek", CALL_BOUND, () -> delegate.seek(tp, first));
                    }
                    got = ConsumerRecords.empty();
                }
                outstanding = p;
                return got;
            }
        }
    }

    private ConsumerRecords<byte[], byte[]> polled(ConsumerRecords<byte[], byte[]> got) {
        if (!got.isEmpty()) {
            worker.polled(list(got));
        }
        return got;
    }

    private static List<ConsumerRecord<byte[], byte[]>> list(ConsumerRecords<byte[], byte[]> got) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>(got.count());
        for (ConsumerRecord<byte[], byte[]> r : got) {
            out.add(r);
        }
        return out;
    }

    /** Fail a step poll still waiting for its reply (the container stopped). */
    void abandon(String why) {
        Permit p = outstanding;
        if (p != null) {
            p.done.completeExceptionally(new Errors.ConsumerError("illegal-state", why, false));
        }
        for (Object item : inbox) {
            if (item instanceof Permit) {
                ((Permit) item).done.completeExceptionally(
                    new Errors.ConsumerError("illegal-state", why, false));
            }
        }
    }

    static Collection<TopicPartition> owned(Consumer<byte[], byte[]> c,
                                            Collection<TopicPartition> wanted) {
        List<TopicPartition> out = new ArrayList<>();
        for (TopicPartition tp : wanted) {
            if (c.assignment().contains(tp)) {
                out.add(tp);
            }
        }
        return out;
    }
}
