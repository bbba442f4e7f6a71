package dev.onionrelay.layer;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.internal.tcnative.Buffer;
import io.netty.internal.tcnative.SSL;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLEngine;

/**
 * TLS half-close on Netty's OpenSSL engine, under TLS 1.3 and 1.2 alike.
 *
 * <p>BoringSSL itself keeps a connection's sending side open after it has read the peer's close_notify: {@code
 * SSL_read} returns {@code SSL_ERROR_ZERO_RETURN} and {@code SSL_write} goes on working until we call {@code
 * SSL_shutdown} ourselves. It is Netty's {@link ReferenceCountedOpenSslEngine} that answers every close_notify it reads
 * with its own and stops sending ({@code closeAll()}, guarded by its private {@code receivedShutdown} flag); the JDK
 * engine keeps sending, but only under TLS 1.3. An end of direction at the minimum depth closes every layer of the
 * stack innermost first while the answer still travels out through all of them (docs/STACK.md), so the engine of every
 * such layer must keep sending: with Netty's answer switched off, the OpenSSL engine does.
 *
 * <p>How: the flag is set before the handshake, so Netty never runs {@code closeAll()}. From then on the engine is
 * used as a record layer and the close_notify in each direction is kept outside it, by {@link HalfCloseSslHandler}: Netty
 * treats an engine whose inbound or outbound side is done as shutting down (its handshake status turns {@code
 * NEED_UNWRAP}, which stops {@code SslHandler} after one record per flush, and every result turns {@code CLOSED}, which
 * hides a full read buffer), so neither side is ever marked done on the engine itself. {@link #closeNotifyReceived}
 * tells the peer's close_notify apart from a failure (BoringSSL has read it, and reading again still gives {@code
 * SSL_ERROR_ZERO_RETURN}); {@link #sendCloseNotify} queues ours with {@code SSL_shutdown}, for the next wrap to send;
 * after it BoringSSL refuses to encrypt more.
 *
 * <p>This reaches into a private field of Netty's engine. When it cannot (a Netty that renamed it), {@link
 * #available()} is false and the service keeps half-close by running the layers that need it on the JDK engine.
 */
public final class OpenSslHalfClose {

    private static final Field RECEIVED_SHUTDOWN;
    private static final Throwable UNAVAILABLE;

    /** Where a probing {@code SSL_read} may write; it never does, since it is only called after close_notify. */
    private static final ThreadLocal<ByteBuffer> PROBE = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(64));

    static {
        Field field = null;
        Throwable cause = null;
        try {
            field = ReferenceCountedOpenSslEngine.class.getDeclaredField("receivedShutdown");
            if (field.getType() != boolean.class) {
                throw new NoSuchFieldException("receivedShutdown is a " + field.getType() + ", not a boolean");
            }
            field.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            field = null;
            cause = e;
        }
        RECEIVED_SHUTDOWN = field;
        UNAVAILABLE = cause;
    }

    private OpenSslHalfClose() {}

    /** Whether OpenSSL layers here keep half-close: OpenSSL loads and Netty's engine is the one this was made for. */
    public static boolean available() {
        return UNAVAILABLE == null && OpenSsl.isAvailable();
    }

    /** Why {@link #available()} is false; null when it is true. */
    public static Throwable unavailabilityCause() {
        if (UNAVAILABLE != null) {
            return UNAVAILABLE;
        }
        return OpenSsl.isAvailable() ? null : OpenSsl.unavailabilityCause();
    }

    /**
     * Switches off Netty's answer to the peer's close_notify on a new engine, before its handshake: from now on a
     * close_notify ends only the engine's inbound side, and only once {@link #closeNotifyReceived} has seen it.
     *
     * @throws IllegalArgumentException for an engine that is not Netty's OpenSSL engine
     * @throws IllegalStateException when this is not {@link #available()}
     */
    public static void keepSendingAfterCloseNotify(SSLEngine engine) {
        if (!(engine instanceof ReferenceCountedOpenSslEngine openSsl)) {
            throw new IllegalArgumentException(
                    "not Netty's OpenSSL engine: " + engine.getClass().getName());
        }
        if (RECEIVED_SHUTDOWN == null) {
            throw new IllegalStateException("OpenSSL half-close is not available here", UNAVAILABLE);
        }
        synchronized (openSsl) {
            try {
                RECEIVED_SHUTDOWN.setBoolean(openSsl, true);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("OpenSSL half-close is not available here", e);
            }
        }
    }

    /**
     * Whether the peer's close_notify has been read on {@code engine} (set up by {@link #keepSendingAfterCloseNotify}):
     * nothing more will come out of it, and it still encrypts. False for any other engine, and for a fatal alert or a
     * record that could not be opened, which Netty's own path reports as a failure.
     */
    public static boolean closeNotifyReceived(SSLEngine engine) {
        if (!(engine instanceof ReferenceCountedOpenSslEngine openSsl)) {
            return false;
        }
        synchronized (openSsl) {
            long ssl = openSsl.sslPointer();
            if (ssl == 0 || (SSL.getShutdown(ssl) & SSL.SSL_RECEIVED_SHUTDOWN) == 0 || SSL.sslPending(ssl) > 0) {
                return false;
            }
            // BoringSSL sets the same bit for a fatal alert or a record it could not open; only after a close_notify
            // does reading again give a clean zero. Nothing is read: the stream ended at the close_notify.
            ByteBuffer probe = PROBE.get();
            int read = SSL.readFromSSL(ssl, Buffer.address(probe), probe.capacity());
            int error = SSL.getError(ssl, read);
            SSL.clearError();
            return read == 0 && error == SSL.SSL_ERROR_ZERO_RETURN;
        }
    }

    /**
     * Queues our close_notify on {@code engine} (set up by {@link #keepSendingAfterCloseNotify}) without marking its
     * outbound side done: the next {@code wrap} sends it, and BoringSSL encrypts nothing after it. Reading goes on.
     *
     * @return false when it could not be queued here (no OpenSSL engine, the handshake not finished, the engine gone):
     *     then close the engine's outbound side the usual way
     */
    public static boolean sendCloseNotify(SSLEngine engine) {
        if (!(engine instanceof ReferenceCountedOpenSslEngine openSsl)) {
            return false;
        }
        synchronized (openSsl) {
            long ssl = openSsl.sslPointer();
            if (ssl == 0 || SSL.isInInit(ssl) != 0) {
                return false;
            }
            if ((SSL.getShutdown(ssl) & SSL.SSL_SENT_SHUTDOWN) != 0) {
                return true;
            }
            int result = SSL.shutdownSSL(ssl);
            if (result < 0) {
                int error = SSL.getError(ssl, result);
                SSL.clearError();
                return error != SSL.SSL_ERROR_SSL && error != SSL.SSL_ERROR_SYSCALL;
            }
            return true;
        }
    }
}
