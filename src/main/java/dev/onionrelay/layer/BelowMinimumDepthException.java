package dev.onionrelay.layer;

/** A pop was asked for on a side already at its minimum depth (no downgrade by popping). */
public class BelowMinimumDepthException extends Exception {

    public BelowMinimumDepthException(Side side, int minDepth) {
        super("the " + side.label() + " side is at its minimum depth " + minDepth);
    }
}
