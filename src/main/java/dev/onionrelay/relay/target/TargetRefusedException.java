package dev.onionrelay.relay.target;

/** A tunnel's target cannot be used; {@link #reason()} is the short label metrics count it under. */
public final class TargetRefusedException extends Exception {

    private final String reason;

    public TargetRefusedException(String reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    /** {@code unresolved} (the name does not resolve) or {@code policy} (what it resolves to is not allowed). */
    public String reason() {
        return reason;
    }
}
