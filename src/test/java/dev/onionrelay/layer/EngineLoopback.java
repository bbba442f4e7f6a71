package dev.onionrelay.layer;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * Two {@link SSLEngine}s, a client and a server, exchanging TLS records through two in-memory buffers: no sockets, no
 * threads, so what an engine does after a close_notify (and what its handshake costs) shows without a transport.
 */
final class EngineLoopback implements AutoCloseable {

    /** The engines under study, each built the way Netty builds it for a layer. */
    enum Engine {
        /** The JDK's own provider (SunJSSE), Netty's {@code SslProvider.JDK}. */
        JDK,
        /** Netty's {@code ReferenceCountedOpenSslEngine} on netty-tcnative's BoringSSL. */
        NETTY_OPENSSL,
        /** Conscrypt (BoringSSL as a JSSE provider) behind Netty's JDK path. */
        CONSCRYPT;

        SslContextBuilder configure(SslContextBuilder builder) {
            return switch (this) {
                case JDK -> builder.sslProvider(SslProvider.JDK);
                case NETTY_OPENSSL -> builder.sslProvider(SslProvider.OPENSSL);
                case CONSCRYPT -> builder.sslProvider(SslProvider.JDK).sslContextProvider(conscrypt());
            };
        }
    }

    private static Provider conscrypt;

    static synchronized Provider conscrypt() {
        if (conscrypt == null) {
            conscrypt = org.conscrypt.Conscrypt.newProvider();
        }
        return conscrypt;
    }

    private static TrustManagerFactory conscryptTrust(List<X509Certificate> anchors) {
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < anchors.size(); i++) {
                store.setCertificateEntry("anchor" + i, anchors.get(i));
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX", conscrypt());
            factory.init(store);
            return factory;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static SslContext serverContext(Engine engine, PrivateKey key, List<X509Certificate> chain, String protocol)
            throws SSLException {
        return engine.configure(SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new)))
                .protocols(protocol)
                .build();
    }

    static SslContext clientContext(Engine engine, List<X509Certificate> anchors, String protocol) throws SSLException {
        SslContextBuilder builder = engine.configure(SslContextBuilder.forClient());
        if (engine == Engine.CONSCRYPT) {
            // With the JDK's trust manager a Conscrypt client fails TLS 1.3 ("Unknown authType: GENERIC"): use its own.
            builder.trustManager(conscryptTrust(anchors));
        } else {
            builder.trustManager(anchors.toArray(X509Certificate[]::new));
        }
        return builder.protocols(protocol)
                .endpointIdentificationAlgorithm("HTTPS")
                .build();
    }

    private static final AtomicInteger NEXT_PORT = new AtomicInteger();

    /**
     * A client engine for {@code localhost}. Client session caches go by peer host and port: with {@code resumable}
     * every engine names the same port, so it resumes the last session; without, each names a port of its own, so
     * every handshake is a full one.
     */
    static SSLEngine clientEngine(SslContext context, boolean resumable) {
        int port = resumable ? 4433 : 10_000 + Math.floorMod(NEXT_PORT.getAndIncrement(), 50_000);
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT, "localhost", port);
        TlsContexts.requestServerName(engine, "localhost");
        return engine;
    }

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    final SSLEngine client;
    final SSLEngine server;
    /** Records in flight, in write mode: client to server and server to client. */
    private final ByteBuffer toServer = ByteBuffer.allocate(1 << 17);

    private final ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
    /** Application bytes each side has read, in write mode. */
    private final ByteBuffer clientRead = ByteBuffer.allocate(1 << 17);

    private final ByteBuffer serverRead = ByteBuffer.allocate(1 << 17);

    EngineLoopback(SSLEngine client, SSLEngine server) {
        this.client = client;
        this.server = server;
    }

    /** Runs the handshake to its end, post-handshake messages (TLS 1.3 tickets) included. */
    EngineLoopback handshake() throws SSLException {
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 50; round++) {
            pump(client, toServer, toClient, clientRead);
            pump(server, toClient, toServer, serverRead);
            if (idle(client) && idle(server) && toServer.position() == 0 && toClient.position() == 0) {
                return this;
            }
        }
        throw new IllegalStateException("handshake did not finish: client " + client.getHandshakeStatus() + ", server "
                + server.getHandshakeStatus());
    }

    private static boolean idle(SSLEngine engine) {
        HandshakeStatus status = engine.getHandshakeStatus();
        return status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED;
    }

    /** Lets {@code engine} do all it can: tasks, records to send, records received. */
    private static void pump(SSLEngine engine, ByteBuffer out, ByteBuffer in, ByteBuffer app) throws SSLException {
        for (int step = 0; step < 100; step++) {
            HandshakeStatus status = engine.getHandshakeStatus();
            if (status == HandshakeStatus.NEED_TASK) {
                Runnable task;
                while ((task = engine.getDelegatedTask()) != null) {
                    task.run();
                }
                continue;
            }
            if (status == HandshakeStatus.NEED_WRAP) {
                SSLEngineResult result = engine.wrap(EMPTY, out);
                if (result.bytesProduced() > 0 || result.getHandshakeStatus() != HandshakeStatus.NEED_WRAP) {
                    continue;
                }
                return;
            }
            in.flip();
            SSLEngineResult result = in.hasRemaining() ? engine.unwrap(in, app) : null;
            in.compact();
            if (result == null
                    || (result.bytesConsumed() == 0
                            && result.getHandshakeStatus() != HandshakeStatus.NEED_TASK
                            && result.getHandshakeStatus() != HandshakeStatus.NEED_WRAP)) {
                // Netty's OpenSSL engine finishes a server handshake (and sends TLS 1.3 tickets) on a wrap, as
                // Netty's handler always wraps after reading: do the same.
                if (status != HandshakeStatus.NOT_HANDSHAKING && !engine.isOutboundDone()) {
                    SSLEngineResult wrapped = engine.wrap(EMPTY, out);
                    if (wrapped.bytesProduced() > 0 || engine.getHandshakeStatus() != status) {
                        continue;
                    }
                }
                return;
            }
        }
    }

    /** Wraps {@code data} on {@code from}: the result, whatever it is. */
    SSLEngineResult write(SSLEngine from, byte[] data) throws SSLException {
        return from.wrap(ByteBuffer.wrap(data), from == client ? toServer : toClient);
    }

    /** The client's close_notify: {@code closeOutbound} and the record it produces. */
    SSLEngineResult closeOutbound(SSLEngine from) throws SSLException {
        from.closeOutbound();
        return from.wrap(EMPTY, from == client ? toServer : toClient);
    }

    /** Unwraps every record that waits for {@code at}; the last result. */
    SSLEngineResult read(SSLEngine at) throws SSLException {
        ByteBuffer in = at == client ? toClient : toServer;
        ByteBuffer app = at == client ? clientRead : serverRead;
        SSLEngineResult last = null;
        in.flip();
        try {
            while (in.hasRemaining()) {
                last = at.unwrap(in, app);
                if (last.bytesConsumed() == 0) {
                    break;
                }
            }
        } finally {
            in.compact();
        }
        return last;
    }

    /** Puts {@code bytes} on the wire to {@code at}, after whatever is there. */
    void inject(SSLEngine at, byte[] bytes) {
        (at == client ? toClient : toServer).put(bytes);
    }

    /** The bytes on the wire to {@code at} that it has not consumed. */
    byte[] pending(SSLEngine at) {
        ByteBuffer in = at == client ? toClient : toServer;
        return java.util.Arrays.copyOf(in.array(), in.position());
    }

    /** Flips the last byte on the wire to {@code at}: the tag of the last record. */
    void corruptLastByte(SSLEngine at) {
        ByteBuffer in = at == client ? toClient : toServer;
        in.put(in.position() - 1, (byte) (in.get(in.position() - 1) ^ 1));
    }

    /** Takes the application bytes {@code at} has read so far. */
    byte[] takeRead(SSLEngine at) {
        ByteBuffer app = at == client ? clientRead : serverRead;
        app.flip();
        byte[] bytes = new byte[app.remaining()];
        app.get(bytes);
        app.clear();
        return bytes;
    }

    @Override
    public void close() {
        ReferenceCountUtil.release(client);
        ReferenceCountUtil.release(server);
    }
}
