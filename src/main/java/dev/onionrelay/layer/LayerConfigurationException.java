package dev.onionrelay.layer;

/** A layer spec that cannot be turned into a TLS context: unknown credential, wrong kind, bad protocol or cipher. */
public class LayerConfigurationException extends Exception {

    private final String field;

    /**
     * @param field the spec field at fault, relative to the layer ("credential", "trust", "protocols", …)
     */
    public LayerConfigurationException(String field, String message) {
        super(message);
        this.field = field;
    }

    public LayerConfigurationException(String field, String message, Throwable cause) {
        super(message, cause);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
