package io.github.kafkaconformance.worker;

/**
 * One Spring Kafka listener container in its own process, driven over JSON lines
 * (docs/worker-protocol.md, docs/spring-kafka-worker.md): {@code java ... SpringMain --id m1}.
 *
 * <p>The process and its command loop are {@link ProtocolWorker}'s (shared with the java
 * worker): the main thread executes the commands, while the container's consumer threads run
 * Spring's poll loop.
 */
public final class SpringMain {
    private SpringMain() {
    }

    public static void main(String[] args) {
        ProtocolWorker.main(args, SpringWorker::new);
    }
}
