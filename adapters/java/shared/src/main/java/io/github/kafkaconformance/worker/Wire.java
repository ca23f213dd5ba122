package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/** The worker protocol's JSON shapes (docs/worker-protocol.md): partitions, offsets and records
 *  written in events, partitions and fields read from commands; and offsets as the client's
 *  commit maps carry them. Shared by every JVM worker. */
final class Wire {
    static final Comparator<TopicPartition> TP_ORDER =
        Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition);

    private Wire() {
    }

    static ArrayNode tps(Collection<TopicPartition> items) {
        List<TopicPartition> sorted = new ArrayList<>(items);
        sorted.sort(TP_ORDER);
        ArrayNode arr = Out.JSON.createArrayNode();
        for (TopicPartition tp : sorted) {
            arr.addArray().add(tp.topic()).add(tp.partition());
        }
        return arr;
    }

    static ArrayNode offsetsJson(Map<TopicPartition, Long> offsets) {
        TreeMap<TopicPartition, Long> sorted = new TreeMap<>(TP_ORDER);
        sorted.putAll(offsets);
        ArrayNode arr = Out.JSON.createArrayNode();
        sorted.forEach((tp, o) -> arr.addArray().add(tp.topic()).add(tp.partition()).add(o));
        return arr;
    }

    /** A {@code committed} reply's rows: [topic, partition, offset or null] for each of
     *  ``partitions`` (as given: a list may repeat one), sorted. */
    static ArrayNode committedJson(Collection<TopicPartition> partitions,
                                   Map<TopicPartition, OffsetAndMetadata> got) {
        List<TopicPartition> sorted = new ArrayList<>(partitions);
        sorted.sort(TP_ORDER);
        ArrayNode arr = Out.JSON.createArrayNode();
        for (TopicPartition tp : sorted) {
            OffsetAndMetadata o = got.get(tp);
            ArrayNode row = arr.addArray().add(tp.topic()).add(tp.partition());
            if (o == null) {
                row.addNull();
            } else {
                row.add(o.offset());
            }
        }
        return arr;
    }

    /** The offsets of a client's commit map (an entry without metadata: null). */
    static Map<TopicPartition, Long> plain(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<TopicPartition, Long> out = new HashMap<>();
        m.forEach((tp, o) -> out.put(tp, o == null ? null : o.offset()));
        return out;
    }

    /** ``offsets`` as the client commits them, in their order. */
    static Map<TopicPartition, OffsetAndMetadata> toClient(Map<TopicPartition, Long> offsets) {
        Map<TopicPartition, OffsetAndMetadata> out = new LinkedHashMap<>();
        offsets.forEach((tp, o) -> out.put(tp, new OffsetAndMetadata(o)));
        return out;
    }

    private static String key(byte[] key) {
        if (key == null) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(key)).toString();
        } catch (CharacterCodingException e) {
            StringBuilder hex = new StringBuilder();
            for (byte b : key) {
                hex.append(String.format("%02x", b));
            }
            return hex.toString();
        }
    }

    static ArrayNode rec(ConsumerRecord<byte[], byte[]> r) {
        ArrayNode arr = Out.JSON.createArrayNode();
        arr.add(r.topic()).add(r.partition()).add(r.offset());
        String k = key(r.key());
        if (k == null) {
            arr.addNull();
        } else {
            arr.add(k);
        }
        return arr;
    }

    static ArrayNode recs(List<ConsumerRecord<byte[], byte[]>> records) {
        ArrayNode arr = Out.JSON.createArrayNode();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            arr.add(rec(r));
        }
        return arr;
    }

    static JsonNode field(JsonNode msg, String name) {
        JsonNode v = msg.get(name);
        if (v == null || v.isNull()) {
            throw new Errors.ProtocolError("missing field '" + name + "'");
        }
        return v;
    }

    static TopicPartition tp(JsonNode pair) {
        if (!pair.isArray() || pair.size() < 2) {
            throw new Errors.ProtocolError("a partition is [topic, partition], not " + pair);
        }
        return new TopicPartition(pair.get(0).asText(), pair.get(1).asInt());
    }

    static List<TopicPartition> partitions(JsonNode msg) {
        List<TopicPartition> out = new ArrayList<>();
        for (JsonNode pair : field(msg, "partitions")) {
            out.add(tp(pair));
        }
        return out;
    }
}
