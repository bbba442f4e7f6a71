package dev.onionrelay.layer.allow;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import javax.net.ssl.SSLEngine;
import org.jspecify.annotations.Nullable;

/**
 * Sends a fatal alert ({@code access_denied} for a refused peer, {@code no_application_protocol} for a shaped layer
 * whose peer did not negotiate shaping) from Netty's OpenSSL engine (BoringSSL in netty-tcnative), which offers no way
 * to choose an alert: tcnative turns a trust manager's failure into an X.509 error code and BoringSSL's {@code
 * SSL_alert_from_verify_result} turns that into the alert, and no code gives {@code access_denied} (its table gives
 * {@code unknown_ca}, {@code bad_certificate}, {@code decrypt_error}, {@code certificate_expired}, {@code
 * certificate_revoked}, {@code internal_error}, {@code handshake_failure}, {@code unsupported_certificate}, else {@code
 * certificate_unknown}). BoringSSL itself has the call, {@code SSL_send_fatal_alert(SSL *, uint8_t)}, linked into
 * tcnative's library but not exported; {@link TcnativeFunction} finds it there and this calls it through the Foreign
 * Function API on Java 22 and later, through JNA on Java 17 to 21, which have no such API.
 *
 * <p>Called from inside the trust manager, during the handshake step that received the certificate: BoringSSL writes
 * the alert at once (under the keys the handshake writes with at that point, as it would its own alert), marks the
 * connection's write side failed, and then refuses to write the alert its failed verification would have sent, so the
 * peer sees {@code access_denied} only; Python's {@code ssl} and {@code openssl s_client} report "tlsv1 alert access
 * denied". Called after a completed handshake (a server layer whose client sent no certificate), the alert goes out
 * under the traffic keys with the close that follows.
 *
 * <p>{@link #available()} is false on a platform where the library cannot be read, when the loaded library is not the
 * image it was read from, or when neither way of calling native code works (JNA's own native library could not be
 * loaded, say); then {@code onion.tls.provider=auto} runs layers with {@code allow} on the JDK engine (see {@link
 * JdkFatalAlerts}), which costs more per handshake.
 */
public final class OpenSslFatalAlerts {

    /**
     * The system property that turns the native call off ({@code -Donion.tls.openssl-access-denied=false}): layers with
     * {@code allow} then run on the JDK engine under {@code auto}. For an operator who would rather not have a private
     * BoringSSL function called at all.
     */
    public static final String SWITCH = "onion.tls.openssl-access-denied";

    /** {@code SSL_AD_ACCESS_DENIED}, RFC 8446 section 6. */
    static final byte ACCESS_DENIED = 49;

    private OpenSslFatalAlerts() {}

    /** Whether the OpenSSL engine can be made to send {@code access_denied} here. */
    public static boolean available() {
        return Native.SEND != null;
    }

    /** Why {@link #available()} is false, or null. */
    public static @Nullable Throwable unavailabilityCause() {
        return Native.UNAVAILABLE;
    }

    /**
     * Fails {@code engine}'s connection with {@code access_denied}: the alert is written to the engine's outbound
     * buffer, for the handler to send. Does nothing (and answers false) for an engine that is not Netty's OpenSSL
     * engine, one already freed, or when this is not {@link #available()}.
     */
    static boolean send(@Nullable SSLEngine engine) {
        return send(engine, ACCESS_DENIED);
    }

    /**
     * The same with another alert ({@code alert}, its RFC 8446 code): a shaped layer whose peer negotiated no ALPN gets
     * {@code no_application_protocol} (120) after a handshake the engine let finish.
     */
    public static boolean send(@Nullable SSLEngine engine, byte alert) {
        Downcall send = Native.SEND;
        if (send == null || !(engine instanceof io.netty.handler.ssl.ReferenceCountedOpenSslEngine openSsl)) {
            return false;
        }
        // The engine's own lock, held already when called from its handshake (the monitor is reentrant): the SSL
        // object is not freed while the alert is written.
        synchronized (openSsl) {
            long ssl = openSsl.sslPointer();
            if (ssl == 0) {
                return false;
            }
            try {
                // 1: sent; -1: queued behind pending output or refused after another fatal alert.
                return send.call(ssl, alert) != 0;
            } catch (Throwable e) {
                return false;
            }
        }
    }

    /** The call, bound once, when the OpenSSL engine is first asked for it. */
    private static final class Native {

        static final @Nullable Downcall SEND;
        static final @Nullable Throwable UNAVAILABLE;

        static {
            Downcall send = null;
            Throwable cause = null;
            boolean foreign = Runtime.version().feature() >= 22;
            try {
                if ("false".equalsIgnoreCase(System.getProperty(SWITCH, "true").trim())) {
                    throw new IllegalStateException("switched off by -D" + SWITCH + "=false");
                }
                if (!io.netty.handler.ssl.OpenSsl.isAvailable()) {
                    throw new IllegalStateException(
                            "the OpenSSL engine is not available", io.netty.handler.ssl.OpenSsl.unavailabilityCause());
                }
                send = foreign ? Foreign.bind() : Jna.bind();
            } catch (Throwable e) {
                cause = e;
            }
            SEND = send;
            UNAVAILABLE = cause;
            System.getLogger(OpenSslFatalAlerts.class.getName())
                    .log(
                            System.Logger.Level.INFO,
                            cause == null
                                    ? "layers with allow run on OpenSSL: BoringSSL's SSL_send_fatal_alert sends"
                                            + " access_denied (called through "
                                            + (foreign ? "the Foreign Function API" : "JNA")
                                            + ")"
                                    : "layers with allow run on the JDK engine under onion.tls.provider=auto: "
                                            + cause);
        }
    }

    /** BoringSSL's {@code int SSL_send_fatal_alert(SSL *ssl, uint8_t alert)}, bound to one way of calling it. */
    @FunctionalInterface
    private interface Downcall {

        int call(long ssl, byte alert) throws Throwable;
    }

    /**
     * The Foreign Function and Memory API ({@code java.lang.foreign}, final in Java 22), reached reflectively: the
     * project compiles for Java 17, where it does not exist; the image runs Java 25.
     */
    private static final class Foreign {

        static Downcall bind() throws Exception {
            Foreign foreign = new Foreign();
            TcnativeFunction function = TcnativeFunction.locate("SSL_send_fatal_alert", foreign::read);
            MethodHandle handle = foreign.downcall(function.address());
            return (ssl, alert) -> (int) handle.invokeExact(ssl, alert);
        }

        private final Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
        private final Class<?> layout = Class.forName("java.lang.foreign.MemoryLayout");
        private final Class<?> values = Class.forName("java.lang.foreign.ValueLayout");
        private final Method ofAddress = segment.getMethod("ofAddress", long.class);
        private final Method reinterpret = segment.getMethod("reinterpret", long.class);
        private final Method toArray =
                segment.getMethod("toArray", Class.forName("java.lang.foreign.ValueLayout$OfByte"));
        private final Object javaByte = values.getField("JAVA_BYTE").get(null);

        Foreign() throws ReflectiveOperationException {}

        byte[] read(long address, int length) {
            try {
                Object memory = reinterpret.invoke(ofAddress.invoke(null, address), (long) length);
                return (byte[]) toArray.invoke(memory, javaByte);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read this process's memory", e);
            }
        }

        /** {@code int f(SSL *, uint8_t)} at {@code address}, as a {@code (long, byte) int} handle. */
        MethodHandle downcall(long address) throws ReflectiveOperationException {
            Class<?> linker = Class.forName("java.lang.foreign.Linker");
            Class<?> descriptor = Class.forName("java.lang.foreign.FunctionDescriptor");
            Class<?> option = Class.forName("java.lang.foreign.Linker$Option");
            Object arguments = Array.newInstance(layout, 2);
            // A pointer is passed as a 64-bit integer: the same register either way, on x86-64 and AArch64.
            Array.set(arguments, 0, values.getField("JAVA_LONG").get(null));
            Array.set(arguments, 1, javaByte);
            Object function = descriptor
                    .getMethod("of", layout, arguments.getClass())
                    .invoke(null, values.getField("JAVA_INT").get(null), arguments);
            Object nativeLinker = linker.getMethod("nativeLinker").invoke(null);
            return (MethodHandle) linker.getMethod("downcallHandle", segment, descriptor, option.arrayType())
                    .invoke(nativeLinker, ofAddress.invoke(null, address), function, Array.newInstance(option, 0));
        }
    }

    /**
     * JNA, for Java 17 to 21: its own small native library ({@code libjnidispatch}, in its jar) calls a C function at an
     * address. Loaded only here, so a Java 22+ runtime never loads it.
     */
    private static final class Jna {

        static Downcall bind() throws Exception {
            TcnativeFunction function = TcnativeFunction.locate(
                    "SSL_send_fatal_alert",
                    (address, length) -> new com.sun.jna.Pointer(address).getByteArray(0, length));
            com.sun.jna.Function send = com.sun.jna.Function.getFunction(new com.sun.jna.Pointer(function.address()));
            // A pointer passed as a 64-bit integer, as the Foreign binding does: the same register either way.
            return (ssl, alert) -> send.invokeInt(new Object[] {ssl, alert});
        }
    }
}
