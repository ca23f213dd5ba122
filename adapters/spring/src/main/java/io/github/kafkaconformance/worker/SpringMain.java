package io.github.kafkaconformance.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One Spring Kafka listener container in its own process, driven over JSON lines
 * (docs/worker-protocol.md, docs/spring-kafka-worker.md): {@code java ... SpringMain --id m1}.
 *
 * <p>A reader thread puts stdin's commands on a queue; the main thread executes them, while
 * the container's consumer threads run Spring's poll loop. Replies and events go to the real
 * stdout; everything else written to System.out goes to stderr. End of stdin exits at once.
 */
public final class SpringMain {
    static final Object EOF = new Object();

    private SpringMain() {
    }

    public static void main(String[] args) {
        String member = "m1";
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--id") && i + 1 < args.length) {
                member = args[++i];
            } else if (args[i].startsWith("--id=")) {
                member = args[i].substring(5);
            }
        }
        Out out = new Out(member);
        System.setOut(new PrintStream(System.err, true, StandardCharsets.UTF_8));
        BlockingQueue<Object> commands = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> read(out, commands), "stdin");
        reader.setDaemon(true);
        reader.start();
        new SpringWorker(out).serve(commands);
        out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void read(Out out, BlockingQueue<Object> commands) {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                try {
                    commands.put(Out.JSON.readTree(line));
                } catch (JsonProcessingException e) {
                    out.write(out.error(null, "malformed-command", "not JSON: "
                        + e.getOriginalMessage(), false, false));
                }
            }
        } catch (IOException | InterruptedException e) {
            // end of input
        }
        commands.add(EOF);
    }
}
