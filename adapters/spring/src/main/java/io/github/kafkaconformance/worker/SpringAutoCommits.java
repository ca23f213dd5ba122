package io.github.kafkaconformance.worker;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Sees kafka-clients' own commits under {@code enable.auto.commit} (strategy {@code auto}:
 * Spring then commits nothing itself): every successful commit that is not one the worker
 * already reports becomes a {@code committed} event with mode {@code auto}.
 */
public final class SpringAutoCommits implements ConsumerInterceptor<byte[], byte[]> {
    @Override
    public ConsumerRecords<byte[], byte[]> onConsume(ConsumerRecords<byte[], byte[]> records) {
        return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        SpringWorker worker = SpringWorker.current;
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
