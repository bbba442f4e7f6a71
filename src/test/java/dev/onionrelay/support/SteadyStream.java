package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A tunnel kept busy: a connection to an echo path that sends 16 KiB every 20 ms until {@link #finish}, reading the
 * echo all along, so a test can do something else meanwhile (restart another instance, migrate) and then ask whether
 * every byte came back unchanged.
 */
public final class SteadyStream implements AutoCloseable {

    private final Socket socket;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final MessageDigest sentDigest;
    private final MessageDigest receivedDigest;
    private final CompletableFuture<Void> writer;
    private final CompletableFuture<Void> reader;

    public SteadyStream(String host, int port) throws Exception {
        sentDigest = MessageDigest.getInstance("SHA-256");
        receivedDigest = MessageDigest.getInstance("SHA-256");
        socket = new Socket(host, port);
        socket.setSoTimeout(120_000);
        writer = CompletableFuture.runAsync(() -> {
            try {
                Random random = new Random(42);
                byte[] chunk = new byte[16 * 1024];
                OutputStream out = socket.getOutputStream();
                while (!stop.get()) {
                    random.nextBytes(chunk);
                    sentDigest.update(chunk);
                    out.write(chunk);
                    sent.addAndGet(chunk.length);
                    Thread.sleep(20);
                }
                socket.shutdownOutput();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        reader = CompletableFuture.runAsync(() -> {
            try {
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[64 * 1024];
                int n;
                while ((n = in.read(buffer)) > 0) {
                    receivedDigest.update(buffer, 0, n);
                    received.addAndGet(n);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Bytes echoed back so far (grows while the tunnel carries traffic). */
    public long received() {
        return received.get();
    }

    /** Stops sending, half-closes, reads the rest; true when every byte sent came back unchanged. */
    public boolean finish() throws Exception {
        stop.set(true);
        writer.get();
        reader.get();
        return sent.get() > 0
                && sent.get() == received.get()
                && MessageDigest.isEqual(sentDigest.digest(), receivedDigest.digest());
    }

    @Override
    public void close() throws IOException {
        stop.set(true);
        socket.close();
    }
}
