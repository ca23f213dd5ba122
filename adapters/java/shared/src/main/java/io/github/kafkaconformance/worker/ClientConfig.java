package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.AppInfoParser;

/** The client-neutral ConsumerConfig (adapters/base.py) and its mapping to kafka-clients. */
final class ClientConfig {
    private static final Set<String> FIELDS = Set.of("bootstrap_servers", "group_id",
        "auto_offset_reset", "enable_auto_commit", "auto_commit_interval_ms", "group_protocol",
        "assignment_strategy", "max_poll_records", "session_timeout_ms", "heartbeat_interval_ms",
        "max_poll_interval_ms", "metadata_max_age_ms", "fetch_max_bytes",
        "max_partition_fetch_bytes", "partition_eof", "isolation_level", "client_id", "extra",
        "early_access");
    private static final Map<String, String> ASSIGNORS = Map.of(
        "range", "org.apache.kafka.clients.consumer.RangeAssignor",
        "roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor",
        "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
    private static final Set<String> RESETS = Set.of("earliest", "latest", "none");
    private static final Set<String> ISOLATION = Set.of("read_uncommitted", "read_committed");

    /** The kafka-clients release on the classpath, e.g. "4.3.1". */
    static final String VERSION = AppInfoParser.getVersion();
    /** KIP-848 group.protocol=consumer is generally available from kafka-clients 4.0
     *  (3.7-3.9: early access / preview); a maturity boundary, hence the version. */
    static final boolean CONSUMER_PROTOCOL = atLeast(4, 0);
    /** group.protocol=consumer exists from 3.7 as early access: run with early_access only. */
    static final boolean CONSUMER_PROTOCOL_EARLY = atLeast(3, 7);

    String bootstrapServers;
    String groupId;
    String autoOffsetReset = "earliest";
    boolean enableAutoCommit;
    long autoCommitIntervalMs = 5000;
    String groupProtocol = "classic";
    String assignmentStrategy = "range";
    int maxPollRecords = 500;
    long sessionTimeoutMs = 6000;
    long heartbeatIntervalMs = 500;
    long maxPollIntervalMs = 30000;
    long metadataMaxAgeMs = 300000;
    Long fetchMaxBytes;
    Long maxPartitionFetchBytes;
    boolean partitionEof;
    String isolationLevel = "read_uncommitted";
    String clientId;
    JsonNode extra;
    boolean earlyAccess;

    static ClientConfig fromJson(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new Errors.ProtocolError("config must be a JSON object");
        }
        StringBuilder unknown = new StringBuilder();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!FIELDS.contains(field)) {
                unknown.append(unknown.length() == 0 ? "" : ", ").append(field);
            }
        }
        if (unknown.length() > 0) {
            throw new Errors.ProtocolError("unknown consumer config keys: " + unknown);
        }
        if (!node.hasNonNull("bootstrap_servers")) {
            throw new Errors.ProtocolError("config lacks bootstrap_servers");
        }
        ClientConfig c = new ClientConfig();
        c.bootstrapServers = node.get("bootstrap_servers").asText();
        c.groupId = node.hasNonNull("group_id") ? node.get("group_id").asText() : null;
        c.autoOffsetReset = node.path("auto_offset_reset").asText(c.autoOffsetReset);
        c.enableAutoCommit = node.path("enable_auto_commit").asBoolean(false);
        c.autoCommitIntervalMs = node.path("auto_commit_interval_ms").asLong(c.autoCommitIntervalMs);
        c.groupProtocol = node.path("group_protocol").asText(c.groupProtocol);
        c.assignmentStrategy = node.path("assignment_strategy").asText(c.assignmentStrategy);
        c.maxPollRecords = node.path("max_poll_records").asInt(c.maxPollRecords);
        c.sessionTimeoutMs = node.path("session_timeout_ms").asLong(c.sessionTimeoutMs);
        c.heartbeatIntervalMs = node.path("heartbeat_interval_ms").asLong(c.heartbeatIntervalMs);
        c.maxPollIntervalMs = node.path("max_poll_interval_ms").asLong(c.maxPollIntervalMs);
        c.metadataMaxAgeMs = node.path("metadata_max_age_ms").asLong(c.metadataMaxAgeMs);
        c.fetchMaxBytes = node.hasNonNull("fetch_max_bytes")
            ? node.get("fetch_max_bytes").asLong() : null;
        c.maxPartitionFetchBytes = node.hasNonNull("max_partition_fetch_bytes")
            ? node.get("max_partition_fetch_bytes").asLong() : null;
        c.partitionEof = node.path("partition_eof").asBoolean(false);
        c.isolationLevel = node.path("isolation_level").asText(c.isolationLevel);
        c.clientId = node.hasNonNull("client_id") ? node.get("client_id").asText() : null;
        c.extra = node.path("extra");
        c.earlyAccess = node.path("early_access").asBoolean(false);
        return c;
    }

    static boolean atLeast(int major, int minor) {
        String[] parts = VERSION.split("[.-]");
        try {
            int ma = Integer.parseInt(parts[0]);
            int mi = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            return ma > major || (ma == major && mi >= minor);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    static ObjectNode capabilities() {
        ObjectNode caps = Out.JSON.createObjectNode();
        caps.put("consumer_protocol", CONSUMER_PROTOCOL);
        caps.put("cooperative", true);  // CooperativeStickyAssignor (2.4+, the oldest built)
        caps.put("manual_assignment", true);
        caps.put("pause_resume", true);
        caps.put("async_commit", true);
        caps.put("offset_reset_none", true);
        caps.put("on_lost", true);  // ConsumerRebalanceListener.onPartitionsLost (2.4+)
        caps.put("poll_interval", true);  // max.poll.interval.ms
        caps.put("unsubscribe", true);  // consumer.unsubscribe(), then subscribe() again
        caps.put("seek_to_end", true);  // consumer.seekToEnd(tp)
        return caps;
    }

    /** Why this worker cannot run the config (null if it can): ``Unsupported`` of check_config. */
    String unsupported() {
        if (!groupProtocol.equals("classic") && !groupProtocol.equals("consumer")) {
            return "kafka-clients has no group.protocol=" + groupProtocol;
        }
        if (groupProtocol.equals("consumer") && !CONSUMER_PROTOCOL) {
            if (!CONSUMER_PROTOCOL_EARLY) {
                return "kafka-clients " + VERSION + " has no KIP-848 group.protocol property "
                    + "(early access from kafka-clients 3.7, generally available from 4.0)";
            }
            if (!earlyAccess) {
                return "kafka-clients " + VERSION + " ships KIP-848 group.protocol=consumer as "
                    + "early access only (3.7-3.9; generally available from 4.0): "
                    + "--early-access runs it";
            }
        }
        if (groupProtocol.equals("classic") && !ASSIGNORS.containsKey(assignmentStrategy)) {
            return "kafka-clients has no '" + assignmentStrategy + "' assignor (one of "
                + String.join(", ", ASSIGNORS.keySet()) + ")";
        }
        if (!RESETS.contains(autoOffsetReset)) {
            return "kafka-clients has no auto.offset.reset=" + autoOffsetReset;
        }
        if (!ISOLATION.contains(isolationLevel)) {
            return "kafka-clients has no isolation.level=" + isolationLevel;
        }
        return null;
    }

    boolean hasGroup() {
        return groupId != null;
    }

    /** The consumer's properties. Under group.protocol=consumer the broker owns the session
     *  timeout, heartbeat interval and assignor: kafka-clients rejects those keys then. */
    Properties properties(boolean interceptCommits) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers);
        if (groupId != null) {
            p.put("group.id", groupId);
        }
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        p.put("auto.offset.reset", autoOffsetReset);
        p.put("enable.auto.commit", Boolean.toString(enableAutoCommit && hasGroup()));
        p.put("auto.commit.interval.ms", Long.toString(autoCommitIntervalMs));
        p.put("max.poll.records", Integer.toString(Math.max(1, maxPollRecords)));
        p.put("max.poll.interval.ms", Long.toString(maxPollIntervalMs));
        p.put("metadata.max.age.ms", Long.toString(metadataMaxAgeMs));
        // commands that block (commitSync, committed, position) answer well within the
        // harness's reply timeout
        p.put("default.api.timeout.ms", "15000");
        if (groupProtocol.equals("consumer")) {
            p.put("group.protocol", "consumer");
        } else {
            p.put("session.timeout.ms", Long.toString(sessionTimeoutMs));
            p.put("heartbeat.interval.ms", Long.toString(heartbeatIntervalMs));
            p.put("partition.assignment.strategy", ASSIGNORS.get(assignmentStrategy));
        }
        if (fetchMaxBytes != null && fetchMaxBytes > 0) {
            p.put("fetch.max.bytes", Long.toString(fetchMaxBytes));
        }
        if (maxPartitionFetchBytes != null && maxPartitionFetchBytes > 0) {
            p.put("max.partition.fetch.bytes", Long.toString(maxPartitionFetchBytes));
        }
        p.put("isolation.level", isolationLevel);
        // partition_eof: kafka-clients has no end-of-partition events; nothing to turn on
        if (clientId != null) {
            p.put("client.id", clientId);
        }
        if (interceptCommits && enableAutoCommit && hasGroup()) {
            p.put("interceptor.classes", AutoCommits.class.getName());
        }
        if (extra != null && extra.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                p.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText()
                    : e.getValue().toString());
            }
        }
        return p;
    }
}
