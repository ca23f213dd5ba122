package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** The protocol's stdout: one JSON object per line, written whole under a lock (any thread). */
final class Out {
    static final ObjectMapper JSON = new ObjectMapper();

    private final OutputStream out;
    private final String member;

    Out(String member) {
        this.member = member;
        this.out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
    }

    /** Seconds on the host's CLOCK_MONOTONIC (HotSpot's nanoTime on Linux), like Python's. */
    static double now() {
        return System.nanoTime() / 1e9;
    }

    ObjectNode event(String type) {
        ObjectNode node = JSON.createObjectNode();
        node.put("type", type);
        node.put("ts", now());
        node.put("source", member);
        return node;
    }

    ObjectNode reply(JsonNode msg) {
        ObjectNode node = JSON.createObjectNode();
        node.put("type", msg.path("type").asText() + "_ok");
        node.set("in_reply_to", msgId(msg));
        node.put("ts", now());
        node.put("source", member);
        return node;
    }

    ObjectNode error(JsonNode msg, String code, String message, boolean fatal, boolean retriable) {
        ObjectNode node = JSON.createObjectNode();
        node.put("type", "error");
        node.set("in_reply_to", msgId(msg));
        node.put("ts", now());
        node.put("source", member);
        node.put("code", code);
        node.put("message", message);
        node.put("fatal", fatal);
        node.put("retriable", retriable);
        return node;
    }

    private static JsonNode msgId(JsonNode msg) {
        JsonNode id = msg == null || !msg.isObject() ? null : msg.get("msg_id");
        return id == null ? JSON.nullNode() : id;
    }

    void write(ObjectNode node) {
        byte[] line;
        try {
            line = JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + node.path("type"), e);
        }
        synchronized (this) {
            try {
                out.write(line);
                out.write('\n');
                out.flush();
            } catch (IOException e) {
                // the harness is gone: nothing left to report to
                Runtime.getRuntime().halt(0);
            }
        }
    }

    void flush() {
        synchronized (this) {
            try {
                out.flush();
            } catch (IOException ignored) {
                // exiting anyway
            }
        }
    }
}
