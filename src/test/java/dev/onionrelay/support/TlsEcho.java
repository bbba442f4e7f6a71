package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * A TLS client of a relay's ingress layer: trusts one CA, completes the handshake, records the SHA-256 of the
 * certificate the relay presented (as the API's {@code sha256} of a credential), then echoes bytes through the tunnel
 * and checks them. What "the same credential serves, end to end" looks like from outside.
 */
public final class TlsEcho {

    private TlsEcho() {}

    /** What one tunnel showed: the presented certificate's SHA-256 (lowercase hex) and whether the echo was intact. */
    public record Result(String presentedSha256, boolean intact) {}

    public static Result run(String host, int port, X509Certificate ca, long bytes) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", ca);
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trustManagers.getTrustManagers(), null);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(host, port)) {
            socket.setSoTimeout(60_000);
            socket.startHandshake();
            Certificate leaf = socket.getSession().getPeerCertificates()[0];
            String sha256 = HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded()));
            return new Result(sha256, echo(socket.getInputStream(), socket.getOutputStream(), bytes));
        }
    }

    private static boolean echo(InputStream in, OutputStream out, long bytes) throws Exception {
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                Random random = new Random(bytes);
                byte[] chunk = new byte[32 * 1024];
                for (long left = bytes; left > 0; ) {
                    int n = (int) Math.min(chunk.length, left);
                    random.nextBytes(chunk);
                    sent.update(chunk, 0, n);
                    out.write(chunk, 0, n);
                    left -= n;
                }
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        while (total < bytes) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - total));
            if (n < 0) {
                break;
            }
            received.update(buffer, 0, n);
            total += n;
        }
        writer.get();
        return total == bytes && MessageDigest.isEqual(sent.digest(), received.digest());
    }
}
