package io.github.kafkaconformance.worker;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Sees the client's own (auto) commits: kafka-clients has no callback for them, but calls
 * every interceptor's {@code onCommit} once a commit succeeded (auto, sync and async alike; a
 * failed auto commit is only logged). Installed only with enable.auto.commit (strategy
 * {@code auto}); the worker of the process ({@link ProtocolWorker#onClientCommit}) tells the
 * commits it reports itself apart and reports the others as {@code committed} with mode
 * {@code auto}. May run on the client's heartbeat or background thread.
 */
public final class AutoCommits implements ConsumerInterceptor<byte[], byte[]> {
    static volatile ProtocolWorker owner;

    @Override
    public ConsumerRecords<byte[], byte[]> onConsume(ConsumerRecords<byte[], byte[]> records) {
        return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        ProtocolWorker worker = owner;
        if (worker != null) {
            worker.onClientCommit(offsets);
        }
    }

    @Override
    public void close() {
    }

    @Override
    public void configure(Map<String, ?> configs) {
    }
}
