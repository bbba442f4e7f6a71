package dev.onionrelay.store;

/**
 * The store cannot be used as configured (no key-encryption key, a key that does not decrypt what is stored): the
 * instance must not start. The message names the problem and the setting, in one line, and never key material.
 */
public final class StoreConfigurationException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String action;

    public StoreConfigurationException(String message, String action) {
        super(message);
        this.action = action;
    }

    /** What the operator should do about it. */
    public String action() {
        return action;
    }
}
