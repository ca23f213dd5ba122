package io.github.kafkaconformance.worker;

/**
 * One Kafka consumer (kafka-clients) in its own process, driven over JSON lines
 * (docs/worker-protocol.md): {@code java ... Main --id m1}.
 *
 * <p>The process and its command loop are {@link ProtocolWorker}'s (shared with the
 * spring-kafka worker): the main thread executes the commands and, after {@code run}, polls
 * between them, so the consumer is only ever used from one thread.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        ProtocolWorker.main(args, Worker::new);
    }
}
