package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import io.netty.channel.Channel;
import org.jspecify.annotations.Nullable;

/**
 * Keeps reading the side of a tunnel whose innermost layer we pop while the peer's close_notify answer is on its way,
 * even when the other side cannot take more.
 *
 * <p>Why: while the answer is awaited, what the tunnel writes on the popping side is held inside the layer (see
 * {@code LayerStack}) and counts against that channel, so it turns unwritable and the tunnel stops reading the other
 * side. A peer on the other side that stops reading while its own writes are blocked (socat, a thread doing recv then
 * sendall) then blocks our writes to it, which used to stop reads on the popping side too: the answer that would
 * release everything stayed unread in the kernel buffer and both event loops sat idle until the idle timeout (issue
 * 22: 8 of 20 runs with a socat echo target). Reading on breaks that cycle.
 *
 * <p>What is read meanwhile is what the peer sent before its answer: what it had in flight (kernel buffers both ways
 * and its own write buffer), usually a few MiB on loopback, once measured at 17 MB. A peer that floods without ever answering is held to
 * {@link #ALLOWANCE} beyond the other side's write buffer mark; then backpressure applies again and only that tunnel
 * waits, until its idle timeout. Only while bytes are spliced (the tunnel open or half-closed): during set-up the
 * tunnel holds back what the client sends and reads no more, pop or not.
 */
final class PopAnswerReads {

    /** Most bytes queued towards the other side, beyond its high water mark, before backpressure applies again. */
    /*
     * 16 MiB was measured too little: a fresh-clone CI run stalled one 64 MiB echo with 16.9 MB queued toward a
     * blocked echo target and the answer still behind 1.4 MB in the kernel (2026-12-07). What a peer has in flight
     * before its answer is not bounded by the kernel alone, so this is a memory bound for one tunnel, not a guess of
     * that; issue 22's slow-reader work is to replace it with a bound that keeps liveness.
     */
    static final long ALLOWANCE = 64L * 1024 * 1024;

    private PopAnswerReads() {}

    /**
     * Whether the side whose stack is {@code popping} keeps reading although the channel it writes to, {@code
     * other}, is not writable: a pop of ours on it waits for the peer's answer, and {@code other} holds less than
     * {@link #ALLOWANCE} beyond its mark. Event loop only.
     */
    static boolean keepReading(@Nullable LayerStack popping, @Nullable Channel other) {
        if (popping == null || other == null || popping.pendingPop() == null) {
            return false;
        }
        return other.bytesBeforeWritable() < ALLOWANCE;
    }
}
