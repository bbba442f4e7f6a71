package dev.onionrelay.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A running {@code nested_tls.py --steps} peer that a test talks to while it runs: wait for one of its output lines
 * (a finished step), act through the API, then let it go on past a {@code waitline} step.
 */
public final class ScriptedPeer implements AutoCloseable {

    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = new CopyOnWriteArrayList<>();

    private ScriptedPeer(Process process) {
        this.process = process;
        Thread reader = new Thread(this::read, "scripted-peer");
        reader.setDaemon(true);
        reader.start();
    }

    public static ScriptedPeer start(String... args) throws IOException {
        return new ScriptedPeer(PythonPeer.start("nested_tls.py", args));
    }

    private void read() {
        try (BufferedReader in =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                all.add(line);
                lines.add(line);
            }
        } catch (IOException ignored) {
            // The process ended: what it printed is in 'all'.
        }
    }

    /** Waits for a line starting with {@code prefix}; fails with everything printed so far if none comes. */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = lines.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (line == null) {
                throw new AssertionError("peer did not print '" + prefix + "' within " + timeout + ":\n" + output());
            }
            if (line.startsWith("FAIL")) {
                throw new AssertionError("peer failed while waiting for '" + prefix + "':\n" + output());
            }
            if (line.startsWith(prefix)) {
                return line;
            }
        }
    }

    /** Lets the peer past its current {@code waitline} step. */
    public void proceed() throws IOException {
        OutputStream stdin = process.getOutputStream();
        stdin.write('\n');
        stdin.flush();
    }

    /** Waits for the peer to exit and returns its exit code. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("peer still running after " + timeout + ":\n" + output());
        }
        return process.exitValue();
    }

    public String output() {
        return String.join("\n", all);
    }

    @Override
    public void close() {
        process.destroy();
    }
}
