package io.github.kafkaconformance.worker;

import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.InvalidOffsetException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;

/** The protocol's error codes and how kafka-clients exceptions map to them. */
final class Errors {
    private Errors() {
    }

    /** A command that does not follow the protocol (malformed-command; the worker goes on). */
    static final class ProtocolError extends RuntimeException {
        ProtocolError(String message) {
            super(message);
        }
    }

    /** unknown-adapter / usage-error: fatal before init succeeded. */
    static final class UsageError extends RuntimeException {
        final String code;

        UsageError(String code, String message) {
            super(message);
            this.code = code;
        }
    }

    /** A normalized client error (adapters/base.py ConsumerError and its codes). */
    static final class ConsumerError extends RuntimeException {
        final String code;
        final boolean retriable;

        ConsumerError(String code, String message, boolean retriable) {
            super(message);
            this.code = code;
            this.retriable = retriable;
        }

        /** How a ``committed`` event shows it, as the Python worker does: "code: message". */
        String reported() {
            return code + ": " + getMessage();
        }
    }

    static ConsumerError unsupported(String message) {
        return new ConsumerError("unsupported", message, false);
    }

    /** A client exception of ``what`` (e.g. "poll failed") as the contract's error, or null
     *  when it is none of the client's (a worker bug: adapter-error). */
    static ConsumerError normalize(RuntimeException e, String what) {
        if (e instanceof ConsumerError) {
            return (ConsumerError) e;
        }
        String text = what + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
        if (e instanceof InvalidOffsetException) {  // NoOffsetForPartition, OffsetOutOfRange
            return new ConsumerError("no-offset-for-partition", text, false);
        }
        if (e instanceof FencedInstanceIdException) {
            return new ConsumerError("fenced-member", text, false);
        }
        if (e instanceof CommitFailedException) {
            return new ConsumerError("commit-failed", text, false);
        }
        if (e instanceof IllegalStateException || e instanceof InvalidGroupIdException) {
            return new ConsumerError("illegal-state", text, false);
        }
        if (isFencedOrUnknownMember(e)) {
            return new ConsumerError("fenced-member", text, false);
        }
        if (e instanceof KafkaException) {
            return new ConsumerError("consumer-error", text, e instanceof RetriableException);
        }
        if (e instanceof IllegalArgumentException) {
            return new ConsumerError("consumer-error", text, false);
        }
        return null;
    }

    /** A commit failure: fenced-member for a fenced static member, else commit-failed
     *  (retriable when trying again may succeed, e.g. a rebalance in progress). */
    static ConsumerError commit(RuntimeException e) {
        if (e instanceof ConsumerError) {
            return (ConsumerError) e;
        }
        String text = "commit failed: " + e.getClass().getSimpleName() + ": " + e.getMessage();
        if (e instanceof FencedInstanceIdException) {
            return new ConsumerError("fenced-member", text, false);
        }
        if (e instanceof IllegalStateException || e instanceof InvalidGroupIdException) {
            return new ConsumerError("illegal-state", text, false);
        }
        if (e instanceof KafkaException) {
            boolean retriable = e instanceof RetriableException
                || e instanceof RebalanceInProgressException;
            return new ConsumerError("commit-failed", text, retriable);
        }
        return null;
    }

    /** UnknownMemberId / FencedMemberEpoch (the consumer protocol's fencing) outside a commit;
     *  by name, since the latter exists only in newer releases. */
    private static boolean isFencedOrUnknownMember(RuntimeException e) {
        String name = e.getClass().getSimpleName();
        return name.equals("UnknownMemberIdException") || name.equals("FencedMemberEpochException");
    }

    /** A failed commit as the protocol reports it: mapped by commit(), else commit-failed. */
    static ConsumerError commitError(Exception e) {
        ConsumerError mapped = e instanceof RuntimeException
            ? commit((RuntimeException) e) : null;
        return mapped != null ? mapped : new ConsumerError("commit-failed",
            "commit failed: " + e.getClass().getSimpleName() + ": " + e.getMessage(), false);
    }
}
