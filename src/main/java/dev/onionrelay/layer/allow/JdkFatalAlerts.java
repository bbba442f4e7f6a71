package dev.onionrelay.layer.allow;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import javax.net.ssl.SSLEngine;
import org.jspecify.annotations.Nullable;

/**
 * Sends a fatal alert ({@code access_denied} for a refused peer, {@code no_application_protocol} for a shaped layer
 * whose peer did not negotiate shaping) from the JDK's TLS engine, which has no public way to choose an alert: a trust
 * manager's {@code CertificateException} always becomes {@code certificate_unknown} (or a reason of its cause), never
 * {@code access_denied}. Measured on JDK 17, TLS 1.3 and 1.2: calling the engine's own {@code
 * TransportContext.fatal(Alert.ACCESS_DENIED, ...)} from inside the trust manager queues that alert (encrypted under
 * the handshake keys where TLS 1.3 requires), closes the engine, and the engine's own failure that follows sends
 * nothing more; Python's {@code ssl} and {@code openssl s_client} then report "tlsv1 alert access denied".
 *
 * <p>This reaches into {@code sun.security.ssl}, which needs {@code --add-opens java.base/sun.security.ssl=ALL-UNNAMED}
 * (the jar's manifest and the test runner carry it). When the JVM refuses, {@link #available()} is false and a refused
 * peer gets {@code certificate_unknown} instead; the handshake statistics still say {@code access_denied}.
 *
 * <p>BoringSSL (the OpenSSL engine) picks the alert from the X.509 error code the trust manager's failure maps to
 * ({@code SSL_alert_from_verify_result}), and no code maps to {@code access_denied}: {@link OpenSslFatalAlerts} sends
 * it there; where that call is not available, {@code onion.tls.provider=auto} runs layers with {@code allow} on the JDK
 * engine for that reason.
 */
public final class JdkFatalAlerts {

    private static final @Nullable Field CONTEXT;
    private static final @Nullable Method FATAL;
    private static final @Nullable Object ACCESS_DENIED;
    private static final @Nullable Object NO_APPLICATION_PROTOCOL;
    private static final @Nullable Throwable UNAVAILABLE;

    static {
        Field context = null;
        Method fatal = null;
        Object denied = null;
        Object noProtocol = null;
        Throwable cause = null;
        try {
            Class<?> engine = Class.forName("sun.security.ssl.SSLEngineImpl");
            context = engine.getDeclaredField("conContext");
            context.setAccessible(true);
            Class<?> alert = Class.forName("sun.security.ssl.Alert");
            for (Object constant : alert.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals("ACCESS_DENIED")) {
                    denied = constant;
                }
                if (((Enum<?>) constant).name().equals("NO_APPLICATION_PROTOCOL")) {
                    noProtocol = constant;
                }
            }
            if (denied == null) {
                throw new NoSuchFieldException("sun.security.ssl.Alert.ACCESS_DENIED");
            }
            fatal = context.getType().getDeclaredMethod("fatal", alert, String.class);
            fatal.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            context = null;
            fatal = null;
            denied = null;
            noProtocol = null;
            cause = e;
        }
        CONTEXT = context;
        FATAL = fatal;
        ACCESS_DENIED = denied;
        NO_APPLICATION_PROTOCOL = noProtocol;
        UNAVAILABLE = cause;
    }

    private JdkFatalAlerts() {}

    /** Whether the JDK engine can be made to send {@code access_denied} here. */
    public static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Why {@link #available()} is false, or null. */
    public static @Nullable Throwable unavailabilityCause() {
        return UNAVAILABLE;
    }

    /**
     * Fails {@code engine}'s handshake with {@code access_denied}, from inside its trust manager. Does nothing (and
     * answers false) for an engine that is not the JDK's or when this is not {@link #available()}.
     */
    static boolean send(@Nullable SSLEngine engine, String why) {
        return send(engine, ACCESS_DENIED, why);
    }

    /**
     * Fails {@code engine}'s connection with {@code no_application_protocol} after a handshake it let finish (a shaped
     * layer whose peer negotiated no ALPN): the alert waits in the engine for the next flush. False as {@link #send}.
     */
    public static boolean sendNoApplicationProtocol(@Nullable SSLEngine engine, String why) {
        return send(engine, NO_APPLICATION_PROTOCOL, why);
    }

    private static boolean send(@Nullable SSLEngine engine, @Nullable Object alert, String why) {
        if (!available()
                || alert == null
                || engine == null
                || !CONTEXT.getDeclaringClass().isInstance(engine)) {
            return false;
        }
        try {
            // fatal() sends the alert, closes the engine and returns the exception it wants thrown: the caller throws
            // its own refusal instead, which the engine then finds already answered.
            FATAL.invoke(CONTEXT.get(engine), alert, why);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }
}
