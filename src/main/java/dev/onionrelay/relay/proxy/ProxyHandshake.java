package dev.onionrelay.relay.proxy;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import org.jspecify.annotations.Nullable;

/**
 * The exchange in which a proxy-mode client names its destination, read from the plaintext inside the innermost
 * ingress layer: one per tunnel, fed every byte that arrives until it yields a {@link Step.Destination} or a
 * {@link Step.Refusal}, then asked for the answer to send once the connect has succeeded or failed.
 */
public interface ProxyHandshake {

    /** The most bytes a request may take before it is refused as too large. */
    int MAX_REQUEST_BYTES = 8 * 1024;

    /** What the bytes so far amount to. */
    sealed interface Step {

        /** Not complete yet; {@code reply} (if any) goes to the client now (a SOCKS method selection). */
        record NeedMore(byte @Nullable [] reply) implements Step {}

        /**
         * The client asked for {@code destination}; the request took the bytes consumed from the buffer, anything
         * after it there is the client's first data.
         */
        record Destination(Endpoint destination) implements Step {}

        /** Bad input: answer {@code reply} (or nothing, when null) and close. {@code why} is for the audit line. */
        record Refusal(byte @Nullable [] reply, String why) implements Step {}
    }

    /** The mode's label ({@code connect}, {@code socks5}). */
    String mode();

    /** Reads what it can from {@code in} (consuming what belongs to the request, nothing after it). */
    Step offer(ByteBuf in);

    /** The answer for an outcome; null: close without an answer. */
    byte @Nullable [] answer(ProxyOutcome outcome);

    /** The answer when the client did not finish its request in time; null: close without an answer. */
    byte @Nullable [] timedOut();
}
