package dev.onionrelay.fleet;

/** Another live instance of the fleet already has this instance's name: this one must not start. */
public final class DuplicateInstanceException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public DuplicateInstanceException(String message) {
        super(message);
    }
}
